/**
 * Bidi and client-streaming RPC (docs/protocol.md §9) between Python using only pika
 * (examples/python/) and TypeScript's AmqpTransport, on the real RabbitMQ, both ways. A
 * raw amqplib caller stands in where the TypeScript caller would hide what Python sends
 * (the `open` headers, pings, credit) or would never misbehave (silence, too many items).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AmqpTransport, NotFoundError, type Server } from '@switchyard/broker';
import amqplib, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueNamespace } from '../harness/servers.js';

/** Debian's interpreter: the one python3-pika is installed for (not a pyenv python3 on PATH). */
const PYTHON = '/usr/bin/python3';
const amqpUrl = inject('amqpUrl');
const EXAMPLES = fileURLToPath(new URL('../../examples/python/', import.meta.url));
/** Short, so lost peers are found quickly; pings then go every ~333 ms. */
const HEARTBEAT_MS = 1_000;

const namespace = uniqueNamespace('polyglot-py-bidi');
const env = { SWITCHYARD_AMQP: amqpUrl, SWITCHYARD_NAMESPACE: namespace };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function eventually<T>(check: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(25);
  }
}

interface PyStream {
  id: string;
  method: string;
  reason: string;
  sent: number;
  received: number;
}

/** service.py as a child process; one STREAM line per call it ended. */
class PythonService {
  readonly streams: PyStream[] = [];
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<PythonService> {
    const child = spawn(PYTHON, [`${EXAMPLES}service.py`], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const svc = new PythonService(child);
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line === 'READY') resolve();
        else if (line.startsWith('STREAM ')) svc.streams.push(JSON.parse(line.slice(7)));
      });
      child.once('exit', (code) => reject(new Error(`service.py exited with ${code} before READY`)));
    });
    return svc;
  }

  /** How the call with correlation id `id` ended, once it has. */
  ended(id: string): Promise<PyStream> {
    return eventually(() => this.streams.find((s) => s.id === id));
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    return ((await exited) as [number | null])[0];
  }
}

/** `caller.py bidi ...` to completion: one JSON document a line. */
async function runBidiCaller(args: string[]): Promise<{ code: number | null; lines: unknown[] }> {
  const child = spawn(PYTHON, [`${EXAMPLES}caller.py`, 'bidi', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return {
    code,
    lines: stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l)),
  };
}

const header = (m: ConsumeMessage, name: string) => {
  const v = (m.properties.headers as Record<string, unknown> | undefined)?.[name];
  return Buffer.isBuffer(v) ? v.toString() : v === undefined ? undefined : String(v);
};

/** A hand-written §9 caller that does only what a test tells it to. */
class RawCaller {
  readonly messages: ConsumeMessage[] = [];
  readonly id = `raw-${Math.random().toString(36).slice(2)}`;
  server: string | undefined;

  private constructor(private readonly ch: Channel) {}

  static async open(conn: ChannelModel, method: string, headers: Record<string, string>): Promise<RawCaller> {
    const ch = await conn.createChannel();
    const raw = new RawCaller(ch);
    await ch.consume(
      'amq.rabbitmq.reply-to',
      (m) => {
        if (!m || m.properties.correlationId !== raw.id) return;
        raw.messages.push(m);
        if (header(m, 'x-status') === 'open') raw.server ??= m.properties.replyTo as string;
      },
      { noAck: true },
    );
    ch.publish(`${namespace}.rpc`, 'inventory', Buffer.alloc(0), {
      mandatory: true,
      replyTo: 'amq.rabbitmq.reply-to',
      correlationId: raw.id,
      contentType: 'application/json',
      headers: {
        'x-method': method,
        'x-stream-kind': 'bidi',
        'x-stream-version': '1',
        'x-stream-window': '16',
        'x-heartbeat': String(HEARTBEAT_MS),
        ...headers,
      },
    });
    return raw;
  }

  /** Messages with this x-status (or x-control). */
  with(name: 'x-status' | 'x-control', value: string): ConsumeMessage[] {
    return this.messages.filter((m) => header(m, name) === value);
  }

  async opened(): Promise<ConsumeMessage> {
    return eventually(() => this.with('x-status', 'open')[0]);
  }

  item(seq: number, value: unknown): void {
    this.to({ 'x-status': 'item', 'x-seq': String(seq) }, Buffer.from(JSON.stringify(value)));
  }

  to(headers: Record<string, string>, body = Buffer.alloc(0)): void {
    this.ch.publish('', this.server!, body, {
      correlationId: this.id,
      contentType: 'application/json',
      headers,
    });
  }

  close(): Promise<void> {
    return this.ch.close();
  }
}

/** Every item of a call until it ends; rejects with the call's error. */
async function drain(call: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const item of call) out.push(item);
  return out;
}

let py: PythonService;
let ts: AmqpTransport;
let server: Server;
let rawConn: ChannelModel;
/** How each TypeScript `chat` call with a tag ended. */
const tsChats = new Map<string, { received: number; aborted: boolean }>();

beforeAll(async () => {
  ts = new AmqpTransport({ url: amqpUrl, namespace });
  await ts.start();
  server = await ts.serve('orders', {
    // For each {text} one {echo, n}, then {done: count}; text "boom" fails the stream.
    chat: {
      bidi: 'bidi',
      handler: async function* (req) {
        let n = 0;
        let tag: string | undefined;
        try {
          for await (const m of req.input!) {
            const { text, tag: t } = m as { text: string; tag?: string };
            tag ??= t;
            if (text === 'boom') throw new NotFoundError(`no echo for item ${n}`);
            yield { echo: text, n: n++ };
          }
          yield { done: n };
        } finally {
          if (tag) tsChats.set(tag, { received: n, aborted: req.signal.aborted });
        }
      },
    },
    sum: {
      bidi: 'client',
      handler: async (req) => {
        let total = 0;
        for await (const n of req.input!) total += n as number;
        return { total };
      },
    },
  });
  py = await PythonService.start();
  rawConn = await amqplib.connect(amqpUrl);
  rawConn.on('error', () => {});
});

afterAll(async () => {
  const code = await py?.stop();
  await rawConn?.close();
  await server?.close();
  await ts?.close();
  // The rpc queues are auto-delete; only the durable exchange outlives the test.
  const conn = await amqplib.connect(amqpUrl);
  const ch = await conn.createChannel();
  await ch.deleteExchange(`${namespace}.rpc`).catch(() => undefined);
  await conn.close().catch(() => undefined);
  expect(code).toBe(0);
});

describe('TypeScript calls a Python bidi method (chat)', () => {
  it('answers every item in order through a small window, then a summary after the half-close', async () => {
    // Window 2: Python must wait for credit about every item.
    const call = ts.bidi('inventory', 'chat', { window: 2, heartbeatMs: HEARTBEAT_MS });
    const reading = drain(call);
    for (let i = 0; i < 30; i++) await call.send({ text: `t${i}` });
    await call.end();
    expect(await reading).toEqual([
      ...Array.from({ length: 30 }, (_, n) => ({ echo: `t${n}`, n })),
      { summary: true, count: 30 },
    ]);
    await expect(py.ended(call.id)).resolves.toMatchObject({ reason: 'end', sent: 31, received: 30 });
  });

  it("sends no more than the caller's window while the caller does not read, and holds the caller back in turn", async () => {
    const call = ts.bidi('inventory', 'chat', { window: 2, heartbeatMs: HEARTBEAT_MS });
    // Python's open grants 16; it takes a caller item only when its answer can go out, and
    // grants credit back only for the items it took: the 17th send waits for credit.
    for (let i = 0; i < 16; i++) await call.send({ text: `t${i}` });
    let seventeenthSent = false;
    void call.send({ text: 't16' }).then(
      () => {
        seventeenthSent = true;
      },
      () => {},
    );
    await sleep(1_500); // longer than a heartbeat: pings keep both sides alive meanwhile
    expect(seventeenthSent).toBe(false);
    call.cancel();
    const ended = await py.ended(call.id);
    expect(ended.reason).toBe('cancelled');
    expect(ended.sent).toBeLessThanOrEqual(2);
    expect(ended.received).toBe(16);
  });

  it('ends the call INVALID_ARGUMENT naming the seq of an item that fails its check, after the answers before it', async () => {
    const call = ts.bidi('inventory', 'chat', { heartbeatMs: HEARTBEAT_MS });
    await call.send({ text: 'a' });
    await call.send({ text: 'b' });
    await call.send({ text: 7 });
    const items: unknown[] = [];
    const failure = await (async () => {
      for await (const item of call) items.push(item);
    })().catch((e: unknown) => e);
    expect(items).toEqual([
      { echo: 'a', n: 0 },
      { echo: 'b', n: 1 },
    ]);
    expect(failure).toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { seq: 2, direction: 'request', violations: [{ pointer: '/text' }] },
    });
    await expect(call.send({ text: 'c' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(py.ended(call.id)).resolves.toMatchObject({ reason: 'error' });
  });

  it('a cancel from TypeScript stops the Python handler, which goes on serving', async () => {
    const call = ts.bidi('inventory', 'chat', { heartbeatMs: HEARTBEAT_MS });
    await call.send({ text: 'first' });
    expect((await call.next()).value).toEqual({ echo: 'first', n: 0 });
    call.cancel();
    await expect(call.next()).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(py.ended(call.id)).resolves.toMatchObject({ reason: 'cancelled', sent: 1, received: 1 });
    // The request was acked, the handler gone: a new call is served as usual.
    const next = ts.bidi('inventory', 'chat', { heartbeatMs: HEARTBEAT_MS });
    await next.send({ text: 'again' });
    await next.end();
    expect(await drain(next)).toEqual([
      { echo: 'again', n: 0 },
      { summary: true, count: 1 },
    ]);
  });

  it('stays open across idle gaps longer than the heartbeat (both sides ping)', async () => {
    const call = ts.bidi('inventory', 'chat', { heartbeatMs: HEARTBEAT_MS });
    for (const text of ['x', 'y']) {
      await call.send({ text });
      expect((await call.next()).done).toBe(false);
      await sleep(HEARTBEAT_MS * 1.5);
    }
    await call.end();
    expect(await drain(call)).toEqual([{ summary: true, count: 2 }]);
    await expect(py.ended(call.id)).resolves.toMatchObject({ reason: 'end' });
  });

  it('ends at the deadline with DEADLINE_EXCEEDED on both sides', async () => {
    const call = ts.bidi('inventory', 'chat', { heartbeatMs: HEARTBEAT_MS, timeoutMs: 800 });
    await call.send({ text: 'x' });
    expect((await call.next()).value).toEqual({ echo: 'x', n: 0 });
    await expect(call.next()).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    // Python's own timer ends it too (or the caller's cancel got there first).
    await expect(py.ended(call.id)).resolves.toMatchObject({ reason: expect.stringMatching(/^(deadline|cancelled)$/) });
  });

  it('refuses calls of the wrong kind with FAILED_PRECONDITION', async () => {
    await expect(ts.call('inventory', 'chat', {})).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(
      drain(ts.bidi('inventory', 'chat', { kind: 'client', heartbeatMs: HEARTBEAT_MS })),
    ).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    await expect(drain(ts.bidi('inventory', 'reserve', { heartbeatMs: HEARTBEAT_MS }))).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    await expect(drain(ts.bidi('inventory', 'nope', { heartbeatMs: HEARTBEAT_MS }))).rejects.toMatchObject({
      code: 'UNIMPLEMENTED',
    });
  });
});

describe('TypeScript calls a Python client-streaming method (total)', () => {
  it('gets one reply summing the items', async () => {
    const call = ts.bidi('inventory', 'total', { kind: 'client', heartbeatMs: HEARTBEAT_MS });
    for (let n = 1; n <= 40; n++) await call.send(n); // beyond the 16 of open: Python must grant credit
    await call.end();
    expect(await drain(call)).toEqual([{ total: 820, count: 40 }]);
    await expect(py.ended(call.id)).resolves.toMatchObject({ reason: 'ok', sent: 0, received: 40 });
  });

  it('ends INVALID_ARGUMENT naming the seq of an item that is not a number', async () => {
    const call = ts.bidi('inventory', 'total', { kind: 'client', heartbeatMs: HEARTBEAT_MS });
    await call.send(1);
    await call.send('two');
    await expect(drain(call)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { seq: 1, direction: 'request' },
    });
  });
});

describe("Python's side of the wire, seen by a hand-written caller", () => {
  it('opens with its credit and own address, pings while idle, and gives up a caller silent for a heartbeat', async () => {
    const raw = await RawCaller.open(rawConn, 'chat', {});
    const open = await raw.opened();
    expect(header(open, 'x-stream-version')).toBe('1');
    expect(header(open, 'x-credit')).toBe('16');
    expect(open.properties.replyTo).toMatch(/^amq\.rabbitmq\.reply-to\./);
    // This caller never pings: within about a heartbeat Python pings, then drops it.
    const ended = await py.ended(raw.id);
    expect(ended).toMatchObject({ reason: 'lost', sent: 0 });
    expect(raw.with('x-control', 'ping').length).toBeGreaterThanOrEqual(1);
    await raw.close();
  });

  it('ends a call whose caller sends more items than granted with RESOURCE_EXHAUSTED', async () => {
    // Window 1 and no credit back: Python answers one item, takes one more, and grants nothing.
    const raw = await RawCaller.open(rawConn, 'chat', { 'x-stream-window': '1' });
    await raw.opened();
    for (let seq = 0; seq <= 16; seq++) raw.item(seq, { text: `t${seq}` });
    const error = await eventually(() => raw.with('x-status', 'error')[0]);
    expect(JSON.parse(error.content.toString())).toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      details: { seq: 16, granted: 16 },
    });
    expect(raw.with('x-status', 'item')).toHaveLength(1);
    await raw.close();
  });

  it('ends a call whose items skip an x-seq with UNAVAILABLE, and refuses an unknown version', async () => {
    const raw = await RawCaller.open(rawConn, 'chat', {});
    await raw.opened();
    raw.item(0, { text: 'a' });
    raw.item(2, { text: 'c' });
    const error = await eventually(() => raw.with('x-status', 'error')[0]);
    expect(JSON.parse(error.content.toString())).toMatchObject({ code: 'UNAVAILABLE' });
    await raw.close();

    const v2 = await RawCaller.open(rawConn, 'chat', { 'x-stream-version': '2' });
    const refusal = await eventually(() => v2.with('x-status', 'error')[0]);
    expect(JSON.parse(refusal.content.toString())).toMatchObject({
      code: 'FAILED_PRECONDITION',
      details: { supported: ['1'] },
    });
    expect(v2.with('x-status', 'open')).toEqual([]);
    await v2.close();
  });
});

describe('Python calls a TypeScript bidi method (caller.py bidi)', () => {
  const items = (n: number, tag?: string) =>
    Array.from({ length: n }, (_, i) => JSON.stringify(tag && i === 0 ? { text: `m${i}`, tag } : { text: `m${i}` }));

  it('gets the replies in order through a small window, then the last one after its end', async () => {
    const r = await runBidiCaller([
      'orders',
      'chat',
      ...items(25),
      '--window',
      '2',
      '--heartbeat-ms',
      String(HEARTBEAT_MS),
    ]);
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([...Array.from({ length: 25 }, (_, n) => ({ echo: `m${n}`, n })), { done: 25 }]);
  });

  it('keeps the stream alive across gaps longer than the heartbeat', async () => {
    const r = await runBidiCaller([
      'orders',
      'chat',
      ...items(3, 'py-idle'),
      '--interval-ms',
      String(HEARTBEAT_MS * 1.5),
      '--heartbeat-ms',
      String(HEARTBEAT_MS),
    ]);
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(4);
    expect(tsChats.get('py-idle')).toEqual({ received: 3, aborted: false });
  });

  it("prints a TypeScript handler's error last, and --take cancels the TypeScript handler", async () => {
    const failed = await runBidiCaller(['orders', 'chat', '{"text":"a"}', '{"text":"boom"}', '{"text":"c"}']);
    expect(failed.code).toBe(1);
    expect(failed.lines).toEqual([
      { echo: 'a', n: 0 },
      { error: expect.objectContaining({ code: 'NOT_FOUND', message: 'no echo for item 1' }) },
    ]);
    // Items paced so the cancel surely comes before the stream could end by itself.
    const taken = await runBidiCaller([
      'orders',
      'chat',
      ...items(10, 'py-take'),
      '--take',
      '2',
      '--interval-ms',
      '200',
    ]);
    expect(taken.code).toBe(0);
    expect(taken.lines).toHaveLength(2);
    const ended = await eventually(() => tsChats.get('py-take'));
    expect(ended.aborted).toBe(true);
    expect(ended.received).toBeLessThan(10);
  });

  it('makes a client-streaming call and gets its one reply', async () => {
    const r = await runBidiCaller([
      'orders',
      'sum',
      '--kind',
      'client',
      ...Array.from({ length: 20 }, (_, i) => String(i + 1)),
    ]);
    expect(r).toEqual({ code: 0, lines: [{ total: 210 }] });
  });

  it('calls the Python chat too (both sides from the document)', async () => {
    const r = await runBidiCaller(['inventory', 'chat', '{"text":"p"}', '{"text":"q"}', '--window', '1']);
    expect(r).toEqual({
      code: 0,
      lines: [
        { echo: 'p', n: 0 },
        { echo: 'q', n: 1 },
        { summary: true, count: 2 },
      ],
    });
  });

  it('fails fast with UNAVAILABLE when nobody serves the service', async () => {
    const r = await runBidiCaller(['nobody-serves-this', 'chat', '{"text":"a"}', '--heartbeat-ms', '20000']);
    expect(r).toMatchObject({ code: 1, lines: [{ error: { code: 'UNAVAILABLE' } }] });
  });
});
