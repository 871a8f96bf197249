/**
 * The wire protocol (docs/protocol.md) is the whole contract: a Python program using only
 * pika (examples/python/) serves, calls, publishes and subscribes against TypeScript's
 * AmqpTransport on the real RabbitMQ, in both directions.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueNamespace } from '../harness/servers.js';

/** Debian's interpreter: the one python3-pika is installed for (not a pyenv python3 on PATH). */
const PYTHON = '/usr/bin/python3';
const EXAMPLES = fileURLToPath(new URL('../../examples/python/', import.meta.url));

interface CallerResult {
  code: number | null;
  body: unknown;
  stderr: string;
}

/** Run caller.py to completion; its stdout is one JSON document. */
async function runCaller(args: string[], env: Record<string, string>): Promise<CallerResult> {
  const child = spawn(PYTHON, [`${EXAMPLES}caller.py`, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  let body: unknown;
  try {
    body = JSON.parse(stdout);
  } catch {
    throw new Error(`caller.py printed no JSON (exit ${code}): ${stdout}\n${stderr}`);
  }
  return { code, body, stderr };
}

interface PyEvent {
  id: string;
  topic: string;
  payload: Record<string, unknown>;
  attempt: number;
  redelivered: boolean;
  headers: Record<string, string>;
}

/** service.py as a child process: READY once consuming; EVENT/DEAD lines collected. */
class PythonService {
  readonly events: PyEvent[] = [];
  readonly dead: Array<{ id: string; reason: string; code: string }> = [];
  private waiters: Array<() => void> = [];

  private constructor(private readonly child: ChildProcess) {}

  static async start(args: string[], env: Record<string, string>): Promise<PythonService> {
    const child = spawn(PYTHON, [`${EXAMPLES}service.py`, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const svc = new PythonService(child);
    const ready = new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (line === 'READY') resolve();
        else if (line.startsWith('EVENT ')) svc.events.push(JSON.parse(line.slice(6)));
        else if (line.startsWith('DEAD ')) svc.dead.push(JSON.parse(line.slice(5)));
        for (const w of svc.waiters) w();
      });
      child.once('exit', (code) => reject(new Error(`service.py exited with ${code} before READY`)));
    });
    await ready;
    return svc;
  }

  /** Wait (bounded) until `check` holds over what the service printed. */
  async until<T>(check: () => T | undefined, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error('service.py did not print what was expected in time');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
      this.waiters = [];
    }
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    return code;
  }
}

const amqpUrl = inject('amqpUrl');

/** Delete what a namespace left behind (durable queues and exchanges outlive the test). */
async function deleteNamespace(namespace: string, queues: string[], exchanges: string[]): Promise<void> {
  const conn = await amqplib.connect(amqpUrl);
  conn.on('error', () => {});
  for (const [kind, name] of [...queues.map((q) => ['q', q]), ...exchanges.map((x) => ['x', x])] as const) {
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    const full = `${namespace}.${name}`;
    await (kind === 'q' ? ch.deleteQueue(full) : ch.deleteExchange(full)).then(
      () => ch.close(),
      () => undefined,
    );
  }
  await conn.close();
}

describe('Python (pika) <-> Python (pika), from the protocol document alone', () => {
  const namespace = uniqueNamespace('polyglot-py');
  const env = { SWITCHYARD_AMQP: amqpUrl, SWITCHYARD_NAMESPACE: namespace };
  let svc: PythonService;

  beforeAll(async () => {
    svc = await PythonService.start(
      [
        '--subscribe',
        'stock.*',
        '--group',
        'py',
        '--queue-type',
        'classic',
        '--attempts',
        '2',
        '--initial-delay-ms',
        '100',
      ],
      env,
    );
  });
  afterAll(async () => {
    expect(await svc?.stop()).toBe(0);
    const q = 'events.py.stock.*';
    await deleteNamespace(namespace, [q, `${q}.dlq`, 'delay.100'], ['events', 'rpc', 'delay.100']);
  });

  it('answers a valid call and rejects an invalid one with every violation', async () => {
    const ok = await runCaller(['call', 'inventory', 'reserve', '{"sku":"A-1","qty":2}'], env);
    expect(ok).toMatchObject({ code: 0, body: { reserved: true, sku: 'A-1', qty: 2 } });

    const bad = await runCaller(['call', 'inventory', 'reserve', '{"sku":"","qty":0}'], env);
    expect(bad.code).toBe(1);
    expect(bad.body).toMatchObject({
      code: 'INVALID_ARGUMENT',
      retryable: false,
      details: { violations: [{ pointer: '/sku' }, { pointer: '/qty', message: 'must be >= 1' }] },
    });
  });

  it('fails fast with UNAVAILABLE when nobody serves the service', async () => {
    const r = await runCaller(['call', 'nobody-serves-this', 'x', '{}', '--timeout-ms', '20000'], env);
    expect(r).toMatchObject({ code: 1, body: { code: 'UNAVAILABLE' } });
  });

  it('retries a failing event with its topic intact, then dead-letters it', async () => {
    const pub = await runCaller(['publish', 'stock.low', '{"fail":true}'], env);
    expect(pub.code).toBe(0);
    const id = (pub.body as { messageId: string }).messageId;
    const second = await svc.until(() => svc.events.find((e) => e.id === id && e.attempt === 2));
    expect(second.topic).toBe('stock.low');
    const dead = await svc.until(() => svc.dead.find((d) => d.id === id));
    expect(dead).toMatchObject({ reason: 'handler-failed', code: 'INTERNAL' });
  });
});
