/**
 * The wire protocol (docs/protocol.md) is the whole contract: a Python program using only
 * pika (examples/python/) serves, calls, publishes and subscribes against TypeScript's
 * AmqpTransport on the real RabbitMQ, in both directions.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  AmqpTransport,
  type ErrorBody,
  type IncomingEvent,
  isSwitchyardError,
  MemorySchemaSource,
  NotFoundError,
  SchemaRegistry,
  type Server,
  type Subscription,
  SwitchyardError,
} from '@switchyard/sdk';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type OtlpSink, startOtlpSink } from '../fixtures/otlp-sink.js';
import { uniqueNamespace } from '../harness/servers.js';

/** Debian's interpreter: the one python3-pika is installed for (not a pyenv python3 on PATH). */
const PYTHON = '/usr/bin/python3';
const amqpUrl = inject('amqpUrl');
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

/** Run `caller.py stream` to completion; its stdout is one JSON document a line. */
async function runStreamCaller(args: string[]): Promise<{ code: number | null; lines: unknown[] }> {
  const child = spawn(PYTHON, [`${EXAMPLES}caller.py`, 'stream', ...args], {
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
  /** One line per stream service.py ended: how (`end`, `error`, `cancelled`, `deadline`) and items sent. */
  readonly streams: Array<{ id: string; method: string; reason: string; sent: number }> = [];

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
        else if (line.startsWith('STREAM ')) svc.streams.push(JSON.parse(line.slice(7)));
      });
      child.once('exit', (code) => reject(new Error(`service.py exited with ${code} before READY`)));
    });
    await ready;
    return svc;
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

/** Poll (bounded) until `check` returns something. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

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

const namespace = uniqueNamespace('polyglot-py');
const env = { SWITCHYARD_AMQP: amqpUrl, SWITCHYARD_NAMESPACE: namespace };

/** The TypeScript side's method schema, held by the SDK's schema registry as a service would. */
const PLACE_REQUEST = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://switchyard.dev/tests/polyglot/place-request.json',
  type: 'object',
  required: ['sku', 'qty'],
  additionalProperties: false,
  properties: { sku: { type: 'string', minLength: 1 }, qty: { type: 'integer', minimum: 1 } },
};

let py: PythonService;
let sink: OtlpSink;
let schemas: SchemaRegistry;
let ts: AmqpTransport;
let server: Server;
let subscription: Subscription;
const tsEvents: IncomingEvent[] = [];
/** How each TypeScript `track` stream with a tag ended. */
const tracked = new Map<string, { sent: number; aborted: boolean }>();

beforeAll(async () => {
  schemas = new SchemaRegistry({ source: new MemorySchemaSource([PLACE_REQUEST]) });
  await schemas.start();
  ts = new AmqpTransport({ url: amqpUrl, namespace });
  await ts.start();
  server = await ts.serve('orders', {
    place: {
      validateRequest: (payload) => schemas.assert(PLACE_REQUEST.$id, payload, 'request'),
      handler: (req) => ({ placed: true, ...(req.payload as object), by: 'typescript' }),
    },
    missing: {
      handler: () => {
        throw new NotFoundError('no such order');
      },
    },
    // Server-streaming: `count` items, a NOT_FOUND at `failAt`; records how each stream ended.
    track: {
      streaming: true,
      handler: async function* (req) {
        const { count = 3, failAt, tag } = req.payload as { count?: number; failAt?: number; tag?: string };
        let sent = 0;
        try {
          for (let n = 0; n < count; n++) {
            if (n === failAt) throw new NotFoundError(`position ${n} is gone`);
            yield { n, at: `stop-${n}` };
            sent++;
          }
        } finally {
          if (tag) tracked.set(tag, { sent, aborted: req.signal.aborted });
        }
      },
    },
    slow: {
      handler: (req) =>
        new Promise((resolve) => {
          const t = setTimeout(resolve, 5_000, { late: true });
          // Settle a while after the deadline (closing the server waits for handlers), late
          // enough that the caller has surely given up: this reply must go nowhere.
          req.signal.addEventListener('abort', () => {
            clearTimeout(t);
            setTimeout(resolve, 1_000, { aborted: true });
          });
        }),
    },
  });
  subscription = await ts.subscribe(
    'orders.*',
    (event) => {
      tsEvents.push(event);
      if ((event.payload as { failOnce?: boolean }).failOnce && event.attempt === 1) {
        throw new Error('first attempt fails on purpose');
      }
    },
    { group: 'ts-audit', retry: { initialDelayMs: 100, attempts: 3 } },
  );
  // Python exports its spans here (OTLP/HTTP JSON), as it would to a collector.
  sink = await startOtlpSink();
  // Python: same namespace, same retry delay (so both declare `<ns>.delay.100`: it must match).
  py = await PythonService.start(
    ['--subscribe', 'stock.*', '--group', 'py', '--attempts', '2', '--initial-delay-ms', '100'],
    { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_SERVICE_NAME: 'inventory-py' },
  );
});

afterAll(async () => {
  const code = await py?.stop();
  await subscription?.close();
  await server?.close();
  await ts?.close();
  await schemas?.close();
  await sink?.close();
  const queues = ['events.py.stock.*', 'events.ts-audit.orders.*'].flatMap((q) => [q, `${q}.dlq`]);
  const delays = ['delay.100', 'delay.200']; // the TS subscriber declares one per retry it may make
  await deleteNamespace(namespace, [...queues, ...delays], ['events', 'rpc', ...delays]);
  expect(code).toBe(0); // service.py exits cleanly on SIGTERM
});

describe('Python calls a TypeScript method (AmqpTransport.serve)', () => {
  it('gets the reply of a valid call', async () => {
    const r = await runCaller(['call', 'orders', 'place', '{"sku":"A-1","qty":2}'], env);
    expect(r).toMatchObject({ code: 0, body: { placed: true, sku: 'A-1', qty: 2, by: 'typescript' } });
  });

  it('gets INVALID_ARGUMENT with violations for a payload failing the method schema', async () => {
    const r = await runCaller(['call', 'orders', 'place', '{"qty":0}'], env);
    expect(r.code).toBe(1);
    expect(r.body).toMatchObject({ code: 'INVALID_ARGUMENT', retryable: false });
    const pointers = (r.body as ErrorBody).details?.violations as Array<{ pointer: string }>;
    expect(pointers.map((v) => v.pointer).sort()).toEqual(['/qty', '/sku']);
  });

  it('gets INVALID_ARGUMENT for a body that is not JSON', async () => {
    const r = await runCaller(['call', 'orders', 'place', '--raw-body', '{"sku": nope'], env);
    expect(r).toMatchObject({ code: 1, body: { code: 'INVALID_ARGUMENT' } });
  });

  it('gets the typed error a TypeScript handler throws, and UNIMPLEMENTED for an unknown method', async () => {
    expect(await runCaller(['call', 'orders', 'missing', '{}'], env)).toMatchObject({
      code: 1,
      body: { code: 'NOT_FOUND', message: 'no such order', retryable: false },
    });
    expect(await runCaller(['call', 'orders', 'refund', '{}'], env)).toMatchObject({
      code: 1,
      body: { code: 'UNIMPLEMENTED' },
    });
  });

  it('gives up at its own deadline with DEADLINE_EXCEEDED', async () => {
    const t0 = Date.now();
    const r = await runCaller(['call', 'orders', 'slow', '{}', '--timeout-ms', '500'], env);
    expect(r).toMatchObject({ code: 1, body: { code: 'DEADLINE_EXCEEDED' } });
    expect(Date.now() - t0).toBeLessThan(4_500); // well before the handler's 5 s
  });
});

describe('TypeScript calls a Python method (AmqpTransport.call)', () => {
  it('gets the reply of a valid call', async () => {
    await expect(ts.call('inventory', 'reserve', { sku: 'B-7', qty: 3 })).resolves.toEqual({
      reserved: true,
      sku: 'B-7',
      qty: 3,
    });
  });

  it("rebuilds Python's error replies as typed errors", async () => {
    const invalid = await ts.call('inventory', 'reserve', { sku: 'B-7', qty: 0 }).catch((e: unknown) => e);
    expect(isSwitchyardError(invalid, 'INVALID_ARGUMENT')).toBe(true);
    expect((invalid as SwitchyardError).details).toEqual({
      violations: [{ pointer: '/qty', message: 'must be at least 1' }],
    });
    const failed = await ts.call('inventory', 'fail', { code: 'RESOURCE_EXHAUSTED' }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(SwitchyardError);
    expect(failed).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryable: true, message: 'inventory is frozen' });
    await expect(ts.call('inventory', 'refund', {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED' });
  });

  it('gets INVALID_ARGUMENT (as JSON) for a content type Python cannot decode', async () => {
    await expect(
      ts.call('inventory', 'reserve', { sku: 'B-7', qty: 1 }, { contentType: 'application/msgpack' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('gets FAILED_PRECONDITION when it opens a stream on a unary Python method', async () => {
    const items: unknown[] = [];
    const failure = await (async () => {
      for await (const item of ts.stream('inventory', 'reserve', { sku: 'B-7', qty: 1 })) items.push(item);
    })().catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(items).toEqual([]);
  });

  it('passes caller headers through to Python', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await expect(
      ts.call('inventory', 'whoami', {}, { headers: { 'x-caller': 'alice', traceparent } }),
    ).resolves.toMatchObject({ 'x-caller': 'alice', traceparent });
  });
});

describe('server-streaming RPC between Python and TypeScript (protocol §5)', () => {
  it('TypeScript consumes a Python stream through the credit window, to its end', async () => {
    const items: unknown[] = [];
    // Window 2 with 25 items: Python must wait for credit a dozen times.
    for await (const item of ts.stream('inventory', 'levels', { sku: 'A-1', count: 25 }, { window: 2 }))
      items.push(item);
    expect(items).toEqual(Array.from({ length: 25 }, (_, n) => ({ sku: 'A-1', n, level: 100 - n })));
    await eventually(() => py.streams.find((s) => s.reason === 'end' && s.sent === 25));
  });

  it("gets Python's mid-stream error as a typed error after the items before it", async () => {
    const items: unknown[] = [];
    const failure = await (async () => {
      for await (const item of ts.stream('inventory', 'levels', { sku: 'A-2', count: 9, failAt: 4 })) items.push(item);
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SwitchyardError);
    expect(failure).toMatchObject({ code: 'NOT_FOUND', message: 'level 4 of A-2 is gone' });
    expect(items).toHaveLength(4);
  });

  it('breaking out of the loop cancels the Python stream', async () => {
    const before = py.streams.length;
    let n = 0;
    for await (const _ of ts.stream('inventory', 'levels', { sku: 'A-3', count: 10_000 }, { window: 4 })) {
      if (++n === 5) break;
    }
    const ended = await eventually(() => py.streams.slice(before).find((s) => s.reason === 'cancelled'));
    expect(ended.sent).toBeLessThan(10_000);
  });

  it('Python sends no more than the credit granted: a caller that stops reading stalls it at the window', async () => {
    const before = py.streams.length;
    const stream = ts.stream('inventory', 'levels', { sku: 'A-5', count: 10_000 }, { window: 3 });
    // One item consumed (at most one item of credit granted back), then nothing read for a while:
    // a server ignoring the window would send thousands meanwhile.
    expect((await stream.next()).done).toBe(false);
    await sleep(1_000);
    await stream.return?.();
    const ended = await eventually(() => py.streams.slice(before).find((s) => s.reason === 'cancelled'));
    expect(ended.sent).toBeLessThanOrEqual(3 + 1);
  });

  it('Python refuses a unary call to its streaming method and an invalid stream request', async () => {
    await expect(ts.call('inventory', 'levels', { sku: 'A-4' })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    const failure = await (async () => {
      for await (const _ of ts.stream('inventory', 'levels', { sku: '' })) {
      }
    })().catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'INVALID_ARGUMENT', details: { violations: [{ pointer: '/sku' }] } });
  });

  it('Python consumes a TypeScript stream through the credit window', async () => {
    const r = await runStreamCaller(['orders', 'track', '{"count":30,"tag":"py-all"}', '--window', '2']);
    expect(r.code).toBe(0);
    expect(r.lines).toEqual(Array.from({ length: 30 }, (_, n) => ({ n, at: `stop-${n}` })));
    await eventually(() => tracked.get('py-all'));
    expect(tracked.get('py-all')).toEqual({ sent: 30, aborted: false });
  });

  it("Python gets a TypeScript stream's error as its last line, and --take cancels the stream", async () => {
    const failed = await runStreamCaller(['orders', 'track', '{"count":5,"failAt":2}']);
    expect(failed.code).toBe(1);
    expect(failed.lines).toEqual([
      { n: 0, at: 'stop-0' },
      { n: 1, at: 'stop-1' },
      { error: expect.objectContaining({ code: 'NOT_FOUND', message: 'position 2 is gone' }) },
    ]);
    const taken = await runStreamCaller([
      'orders',
      'track',
      '{"count":100000,"tag":"py-take"}',
      '--take',
      '3',
      '--window',
      '4',
    ]);
    expect(taken.code).toBe(0);
    expect(taken.lines).toHaveLength(3);
    const ended = await eventually(() => tracked.get('py-take'));
    expect(ended.aborted).toBe(true);
    expect(ended.sent).toBeLessThan(100_000);
  });
});

describe('Python continues the trace', () => {
  const traceId = 'c0ffee00000000000000000000000001';
  it("a call makes a SERVER span of the caller's trace, child of the caller's span, exported over OTLP", async () => {
    await ts.call(
      'inventory',
      'reserve',
      { sku: 'A-1', qty: 1 },
      { headers: { traceparent: `00-${traceId}-1111111111111111-01` } },
    );
    await expect(
      ts.call('inventory', 'fail', {}, { headers: { traceparent: `00-${traceId}-2222222222222222-01` } }),
    ).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    const ok = await eventually(() => sink.spans.find((s) => s.parentSpanId === '1111111111111111'));
    expect(ok).toMatchObject({
      service: 'inventory-py',
      traceId,
      name: 'inventory/reserve',
      kind: 2,
      statusCode: 0,
      attributes: { 'rpc.system': 'switchyard', 'rpc.method': 'reserve', 'messaging.system': 'rabbitmq' },
    });
    expect(ok.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ok.spanId).not.toBe('1111111111111111');
    const failed = await eventually(() => sink.spans.find((s) => s.parentSpanId === '2222222222222222'));
    expect(failed).toMatchObject({ traceId, statusCode: 2, attributes: { 'error.type': 'FAILED_PRECONDITION' } });
  });

  it("an event makes a CONSUMER span under the publisher's span; an unsampled trace is not exported", async () => {
    await ts.publish(
      'stock.low',
      { sku: 'T-1', left: 2 },
      { headers: { traceparent: `00-${traceId}-3333333333333333-01` } },
    );
    const consumer = await eventually(() => sink.spans.find((s) => s.parentSpanId === '3333333333333333'));
    expect(consumer).toMatchObject({
      traceId,
      name: 'process stock.low',
      kind: 5,
      attributes: { 'messaging.operation.type': 'process', 'messaging.consumer.group.name': 'py' },
    });
    // Flags 00: the caller did not sample this trace, so Python records nothing of it.
    const { messageId } = await ts.publish(
      'stock.low',
      { sku: 'T-2', left: 1 },
      {
        headers: { traceparent: `00-${traceId}-4444444444444444-00` },
      },
    );
    await eventually(() => py.events.find((e) => e.id === messageId));
    const sampledAfter = await ts.publish(
      'stock.low',
      { sku: 'T-3', left: 1 },
      {
        headers: { traceparent: `00-${traceId}-5555555555555555-01` },
      },
    );
    await eventually(() => py.events.find((e) => e.id === sampledAfter.messageId));
    // The later, sampled one has arrived: the unsampled one, handled before it, would have too.
    await eventually(() => sink.spans.find((s) => s.parentSpanId === '5555555555555555'));
    expect(sink.spans.find((s) => s.parentSpanId === '4444444444444444')).toBeUndefined();
  });
});

describe('events between Python and TypeScript', () => {
  it('delivers an event Python publishes to a TypeScript subscriber, envelope intact', async () => {
    const r = await runCaller(['publish', 'orders.created', '{"orderId":"o-1"}', '--source', 'py-shop'], env);
    expect(r.code).toBe(0);
    const { messageId } = r.body as { messageId: string };
    const event = await eventually(() => tsEvents.find((e) => e.id === messageId));
    expect(event).toMatchObject({
      topic: 'orders.created',
      payload: { orderId: 'o-1' },
      attempt: 1,
      contentType: 'application/json',
      headers: { 'x-source': 'py-shop' },
    });
    expect(event.timestamp).toBeGreaterThan(Date.now() - 60_000);
  });

  it('retries a Python event whose TypeScript handler fails once, keeping its topic', async () => {
    const r = await runCaller(['publish', 'orders.paid', '{"failOnce":true}'], env);
    const { messageId } = r.body as { messageId: string };
    const second = await eventually(() => tsEvents.find((e) => e.id === messageId && e.attempt === 2));
    expect(second.topic).toBe('orders.paid');
  });

  it('dead-letters a Python event that is not JSON as undecodable', async () => {
    const r = await runCaller(['publish', 'orders.created', '--raw-body', 'not json at all'], env);
    const { messageId } = r.body as { messageId: string };
    const conn = await amqplib.connect(amqpUrl);
    try {
      const ch = await conn.createChannel();
      const msg = await eventually(async () => {
        const m = await ch.get(subscription.deadLetterQueue, { noAck: true });
        return m && m.properties.messageId === messageId ? m : undefined;
      });
      expect(msg.content.toString()).toBe('not json at all');
      expect(msg.properties.headers).toMatchObject({
        'x-death-reason': 'undecodable',
        'x-error-code': 'INVALID_ARGUMENT',
        'x-original-topic': 'orders.created',
      });
    } finally {
      await conn.close();
    }
    expect(tsEvents.some((e) => e.id === messageId)).toBe(false);
  });

  it('delivers an event TypeScript publishes to the Python subscriber', async () => {
    const { messageId } = await ts.publish('stock.low', { sku: 'B-7', left: 1 }, { source: 'ts-orders' });
    const event = await eventually(() => py.events.find((e) => e.id === messageId));
    expect(event).toMatchObject({
      topic: 'stock.low',
      payload: { sku: 'B-7', left: 1 },
      attempt: 1,
      headers: { 'x-source': 'ts-orders' },
    });
  });

  it('lets Python retry then dead-letter a TypeScript event its handler keeps failing', async () => {
    const { messageId } = await ts.publish('stock.out', { fail: true });
    const second = await eventually(() => py.events.find((e) => e.id === messageId && e.attempt === 2));
    expect(second.topic).toBe('stock.out');
    await expect(eventually(() => py.dead.find((d) => d.id === messageId))).resolves.toMatchObject({
      reason: 'handler-failed',
    });
  });

  it('reports UNROUTABLE to a Python publisher when no group subscribes', async () => {
    const r = await runCaller(['publish', 'nobody.listens', '{}'], env);
    expect(r).toMatchObject({ code: 1, body: { code: 'UNROUTABLE' } });
  });
});

describe('Python calls Python (both sides from the document)', () => {
  it('answers a valid call and rejects an invalid one with every violation', async () => {
    const ok = await runCaller(['call', 'inventory', 'reserve', '{"sku":"A-1","qty":2}'], env);
    expect(ok).toMatchObject({ code: 0, body: { reserved: true, sku: 'A-1', qty: 2 } });
    const bad = await runCaller(['call', 'inventory', 'reserve', '{"sku":"","qty":0}'], env);
    expect(bad).toMatchObject({
      code: 1,
      body: { code: 'INVALID_ARGUMENT', details: { violations: [{ pointer: '/sku' }, { pointer: '/qty' }] } },
    });
  });

  it('fails fast with UNAVAILABLE when nobody serves the service', async () => {
    const t0 = Date.now();
    const r = await runCaller(['call', 'nobody-serves-this', 'x', '{}', '--timeout-ms', '20000'], env);
    expect(r).toMatchObject({ code: 1, body: { code: 'UNAVAILABLE' } });
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});
