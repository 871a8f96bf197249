import { rmSync } from 'node:fs';
import { CancelledError } from '@switchyard/broker';
import {
  type CallContext,
  createInfrastructure,
  createService,
  type Infrastructure,
  type Service,
  type ServiceOptions,
} from '@switchyard/sdk';
import { pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SDK_SCHEMA, writeSdkSchemas } from '../fixtures/sdk-schemas.js';

// Bidi and client-streaming methods through the SDK on the in-memory transport:
// `methods: { x: { kind: 'bidi' | 'client' } }` on the serving side, `service.bidi()` and
// `service.clientStream()` on the calling side; items checked both ways, backpressure both ways.

const logger = pino({ level: process.env.SWITCHYARD_TEST_LOG ?? 'silent' });
let schemasDir: string;
let infra: Infrastructure;
const services: Service[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  schemasDir = writeSdkSchemas();
});
afterAll(() => rmSync(schemasDir, { recursive: true, force: true }));

async function start(options: Omit<ServiceOptions, 'infra' | 'version'>): Promise<Service> {
  infra ??= await createInfrastructure({ env: { SWITCHYARD_SCHEMAS: schemasDir }, logger });
  const s = createService({ version: '1.0.0', infra, logger, ...options });
  services.push(s);
  await s.start();
  return s;
}

afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
  await infra?.close();
  infra = undefined as unknown as Infrastructure;
});

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}

async function failure(
  it: AsyncIterable<unknown>,
): Promise<{ code?: string; details?: Record<string, unknown>; items: unknown[] }> {
  const items: unknown[] = [];
  try {
    for await (const item of it) items.push(item);
  } catch (err) {
    const e = err as { code?: string; details?: Record<string, unknown> };
    return { code: e.code, details: e.details, items };
  }
  throw new Error(`the stream ended without an error after ${items.length} items`);
}

type Text = { text: string; breakReply?: boolean };

/** Echoes every caller item (upper-cased), then says how many it saw once the caller half-closes. */
const chat = {
  kind: 'bidi' as const,
  request: SDK_SCHEMA.echoRequest,
  response: SDK_SCHEMA.echoReply,
  handler: async function* (input: AsyncIterable<Text>) {
    let n = 0;
    for await (const m of input) {
      n++;
      yield m.breakReply ? { text: 42 } : { text: m.text.toUpperCase() };
    }
    yield { text: `bye after ${n}` };
  },
};

const sum = {
  kind: 'client' as const,
  request: SDK_SCHEMA.tick,
  response: SDK_SCHEMA.sum,
  handler: async (input: AsyncIterable<{ n: number }>) => {
    let total = 0;
    let count = 0;
    for await (const { n } of input) {
      total += n;
      count++;
    }
    return { sum: total, count };
  },
};

describe('bidi methods', () => {
  it('echoes in order both ways, answers after the half-close, and registers kind bidi with its schemas', async () => {
    await start({ name: 'chat', methods: { talk: chat } });
    const caller = await start({ name: 'user' });
    const call = caller.bidi<Text, Text>('chat.talk');
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`);
    const sending = (async () => {
      for (const text of words) await call.send({ text });
      await call.end();
    })();
    const got: string[] = [];
    for await (const m of call) got.push(m.text);
    await sending;
    expect(got).toEqual([...words.map((w) => w.toUpperCase()), 'bye after 100']);
    const [instance] = await infra.registry.listInstances('chat');
    expect(instance?.methods.talk).toEqual({
      request: SDK_SCHEMA.echoRequest,
      response: SDK_SCHEMA.echoReply,
      idempotent: false,
      kind: 'bidi',
    });
  });

  it('refuses an invalid caller item before sending it: send and the iterator reject naming its seq; the handler sees its input fail', async () => {
    let inputError: unknown;
    const got: unknown[] = [];
    await start({
      name: 'chat',
      methods: {
        talk: {
          ...chat,
          // Reads everything before answering: it is waiting on its input when the stream ends.
          handler: async function* (input: AsyncIterable<Text>) {
            try {
              for await (const m of input) got.push(m);
            } catch (err) {
              inputError = err;
              throw err;
            }
            yield { text: `${got.length}` };
          },
        },
      },
    });
    const caller = await start({ name: 'user' });
    const call = caller.bidi('chat.talk');
    await call.send({ text: 'a' });
    await call.send({ text: 'b' });
    await eventually(() => got.length === 2);
    const waiting = call.next();
    const bad = call.send({ text: 7 });
    await expect(bad).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { seq: 2, direction: 'request', violations: [expect.objectContaining({ pointer: '/text' })] },
    });
    await expect(waiting).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { seq: 2 } });
    expect(await call.next()).toEqual({ done: true, value: undefined });
    await expect(call.send({ text: 'c' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await eventually(() => inputError !== undefined);
    // The caller cancelled the stream: that is what the server's input says.
    expect(inputError).toMatchObject({ code: 'CANCELLED' });
    expect(got).toEqual([{ text: 'a' }, { text: 'b' }]);
  });

  it('the server checks caller items too (a caller that skips the check): INVALID_ARGUMENT with seq and violations', async () => {
    let inputError: unknown;
    await start({
      name: 'chat',
      methods: {
        talk: {
          ...chat,
          handler: async function* (input: AsyncIterable<Text>) {
            try {
              for await (const m of input) yield { text: m.text };
            } catch (err) {
              inputError = err;
            }
          },
        },
      },
    });
    // Straight through the transport, past the SDK caller's check.
    const raw = infra.transport.bidi('chat', 'talk');
    await raw.send({ text: 'ok' });
    // The handler runs (and waits on its input) before the bad item comes.
    expect(await raw.next()).toEqual({ done: false, value: { text: 'ok' } });
    await raw.send({ text: 'x'.repeat(101) });
    const r = await failure(raw);
    expect(r.items).toEqual([]);
    expect(r.code).toBe('INVALID_ARGUMENT');
    expect(r.details).toMatchObject({
      seq: 1,
      direction: 'request',
      violations: [expect.objectContaining({ pointer: '/text' })],
    });
    await eventually(() => inputError !== undefined);
    expect(inputError).toMatchObject({ code: 'INVALID_ARGUMENT', details: { seq: 1 } });
  });

  it('ends the stream at the first server item that fails the response schema, on either side', async () => {
    await start({ name: 'chat', methods: { talk: chat } });
    const caller = await start({ name: 'user' });
    // validateItems off: the server's own check answers.
    const call = caller.bidi('chat.talk', { validateItems: false });
    await call.send({ text: 'a' });
    await call.send({ text: 'b', breakReply: true });
    const r = await failure(call);
    expect(r.items).toEqual([{ text: 'A' }]);
    expect(r.code).toBe('INVALID_ARGUMENT');
    expect(r.details).toMatchObject({ seq: 1, direction: 'response', violations: [expect.anything()] });

    // A server in another language that registered the schema but sends bad items: the caller catches it.
    const server = await infra.transport.serve('polyglot', {
      talk: {
        bidi: 'bidi',
        handler: async function* () {
          yield { text: 'fine' };
          yield { text: 1 };
        },
      },
    });
    const reg = await infra.registry.register({
      service: 'polyglot',
      version: '1',
      methods: { talk: { request: SDK_SCHEMA.echoRequest, response: SDK_SCHEMA.echoReply, kind: 'bidi' } },
    });
    const p = await failure(caller.bidi('polyglot.talk'));
    expect(p.items).toEqual([{ text: 'fine' }]);
    expect(p.code).toBe('INVALID_ARGUMENT');
    expect(p.details).toMatchObject({
      seq: 1,
      direction: 'response',
      violations: [expect.objectContaining({ pointer: '/text' })],
    });
    await reg.deregister();
    await server.close();
  });

  it('refuses a kind mismatch with FAILED_PRECONDITION naming the registered kind', async () => {
    await start({
      name: 'chat',
      methods: { talk: chat, add: sum, now: () => ({ text: 'now' }) },
      streams: { ticks: async function* () {} },
    });
    const caller = await start({ name: 'user' });
    const onUnary = await failure(caller.bidi('chat.now'));
    expect(onUnary.code).toBe('FAILED_PRECONDITION');
    expect(onUnary.details).toMatchObject({ kind: 'unary' });
    expect((await failure(caller.bidi('chat.ticks'))).details).toMatchObject({ kind: 'server' });
    expect((await failure(caller.bidi('chat.add'))).details).toMatchObject({ kind: 'client' });
    await expect(caller.clientStream('chat.talk').end()).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      details: { kind: 'bidi' },
    });
    await expect(caller.call('chat.talk', {})).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect((await failure(caller.bidi('chat.nope'))).code).toBe('UNIMPLEMENTED');
    expect((await failure(caller.bidi('nobody.talk'))).code).toBe('SERVICE_NOT_FOUND');
  });

  it('cancel from the caller aborts the handler (ctx.signal, its input throws) and frees the slot', async () => {
    let signal: AbortSignal | undefined;
    let closed = false;
    const chatSvc = await start({
      name: 'chat',
      methods: {
        talk: {
          kind: 'bidi',
          handler: async function* (input: AsyncIterable<unknown>, ctx: CallContext) {
            signal = ctx.signal;
            try {
              for await (const m of input) yield m;
            } finally {
              closed = true;
            }
          },
        },
      },
    });
    const caller = await start({ name: 'user' });
    const call = caller.bidi('chat.talk');
    await call.send({ x: 1 });
    expect((await call.next()).value).toEqual({ x: 1 });
    expect(chatSvc.activeHandlers('talk')).toBe(1);
    const waiting = call.next();
    call.cancel('enough');
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELLED' });
    await eventually(() => closed);
    expect(signal?.aborted).toBe(true);
    await eventually(() => chatSvc.activeHandlers('talk') === 0);
    await expect(call.send({ x: 2 })).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('a handler that throws CancelledError ends the stream CANCELLED on the caller', async () => {
    await start({
      name: 'chat',
      methods: {
        talk: {
          kind: 'bidi',
          handler: async function* (input: AsyncIterable<unknown>) {
            for await (const m of input) {
              yield m;
              throw new CancelledError('the server gave up');
            }
          },
        },
      },
    });
    const caller = await start({ name: 'user' });
    const call = caller.bidi('chat.talk');
    await call.send({ a: 1 });
    const r = await failure(call);
    expect(r.items).toEqual([{ a: 1 }]);
    expect(r.code).toBe('CANCELLED');
  });

  it('has no default deadline; timeoutMs bounds the whole stream, and ctx.bidi inherits the handler deadline', async () => {
    const signals: AbortSignal[] = [];
    const forever = {
      kind: 'bidi' as const,
      handler: async function* (_input: AsyncIterable<unknown>, ctx: CallContext) {
        signals.push(ctx.signal);
        for (let n = 0; ; n++) {
          yield { n };
          await sleep(20);
        }
      },
    };
    let inner: { code?: string; n: number } | undefined;
    await start({ name: 'clock', methods: { forever } });
    await start({
      name: 'relay',
      methods: {
        count: async (_req: unknown, ctx) => {
          const r = await failure(ctx.bidi('clock.forever'));
          inner = { code: r.code, n: r.items.length };
          return r.items.length;
        },
      },
    });
    const caller = await start({ name: 'user' });
    const timed = await failure(caller.bidi('clock.forever', { timeoutMs: 300 }));
    expect(timed.code).toBe('DEADLINE_EXCEEDED');
    expect(timed.items.length).toBeGreaterThan(0);

    await caller.call('relay.count', {}, { timeoutMs: 400, attempts: 1 }).catch(() => undefined);
    await eventually(() => inner !== undefined);
    expect(inner?.code).toBe('DEADLINE_EXCEEDED');
    expect(inner?.n).toBeGreaterThan(0);
    await eventually(() => signals.length === 2 && signals.every((s) => s.aborted));
  });

  it('holds each open stream in the bulkhead until it ends, however it ends', async () => {
    const chatSvc = await start({ name: 'chat', methods: { talk: { ...chat, maxConcurrent: 1 } } });
    const caller = await start({ name: 'user' });
    const first = caller.bidi('chat.talk');
    await first.send({ text: 'hi' });
    expect((await first.next()).value).toEqual({ text: 'HI' });
    expect(chatSvc.activeHandlers('talk')).toBe(1);
    expect((await failure(caller.bidi('chat.talk'))).code).toBe('BULKHEAD_FULL');
    await first.end();
    expect((await first.next()).value).toEqual({ text: 'bye after 1' });
    expect((await first.next()).done).toBe(true);
    await eventually(() => chatSvc.activeHandlers('talk') === 0);
    // An invalid item ends the next one: the slot comes back too.
    const second = caller.bidi('chat.talk', { validateItems: false });
    await second.send({ text: 'x', breakReply: true });
    expect((await failure(second)).code).toBe('INVALID_ARGUMENT');
    await eventually(() => chatSvc.activeHandlers('talk') === 0);
    const third = caller.bidi('chat.talk');
    await third.send({ text: 'again' });
    expect((await third.next()).value).toEqual({ text: 'AGAIN' });
    await third.return?.();
    await eventually(() => chatSvc.activeHandlers('talk') === 0);
  });

  it('backpressure, caller to server: a producer 100x faster than the consumer is held to its windows', async () => {
    const window = 4;
    let consumed = 0;
    await start({
      name: 'sink',
      methods: {
        slow: {
          kind: 'client',
          inputWindow: window,
          handler: async (input: AsyncIterable<unknown>) => {
            for await (const _ of input) {
              await sleep(20);
              consumed++;
            }
            return { consumed };
          },
        },
      },
    });
    const caller = await start({ name: 'user' });
    const upload = caller.clientStream('sink.slow');
    let produced = 0;
    let worst = 0;
    for (let i = 0; i < 30; i++) {
      await upload.send({ i, pad: 'x'.repeat(1000) });
      produced++;
      worst = Math.max(worst, produced - consumed);
    }
    expect(await upload.end()).toEqual({ consumed: 30 });
    // Without credit all 30 would go out at once (worst 30); with it the producer waits.
    expect(worst).toBeLessThanOrEqual(3 * window);
  });

  it('backpressure, server to caller: a producer 100x faster than the consumer is held to its windows', async () => {
    const window = 4;
    let produced = 0;
    await start({
      name: 'source',
      methods: {
        fast: {
          kind: 'bidi',
          handler: async function* () {
            for (;;) {
              produced++;
              yield { n: produced, pad: 'x'.repeat(1000) };
            }
          },
        },
      },
    });
    const caller = await start({ name: 'user' });
    const call = caller.bidi('source.fast', { window });
    let consumed = 0;
    let worst = 0;
    for await (const _ of call) {
      await sleep(20);
      consumed++;
      worst = Math.max(worst, produced - consumed);
      if (consumed === 30) break;
    }
    expect(worst).toBeLessThanOrEqual(3 * window);
  });

  it('counts handled and outgoing streams in the service metrics', async () => {
    const metricsRegistry = new MetricsRegistry();
    await start({ name: 'chat', methods: { talk: chat }, metricsRegistry });
    const caller = await start({ name: 'user', metricsRegistry });
    const ok = caller.bidi('chat.talk');
    await ok.send({ text: 'a' });
    await ok.end();
    for await (const _ of ok);
    const bad = caller.bidi('chat.talk', { validateItems: false });
    await bad.send({ text: 'b', breakReply: true });
    await failure(bad);
    const values = async (name: string) => (await metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
    await eventually(async () => (await values('switchyard_service_handled_total')).length === 2);
    const byCode = (v: Awaited<ReturnType<typeof values>>) =>
      Object.fromEntries(v.map((x) => [x.labels.code, x.value]));
    expect(byCode(await values('switchyard_service_handled_total'))).toEqual({ OK: 1, INVALID_ARGUMENT: 1 });
    expect(byCode(await values('switchyard_service_calls_total'))).toEqual({ OK: 1, INVALID_ARGUMENT: 1 });
  });
});

describe('client-streaming methods', () => {
  it('sums the items into one reply and registers kind client', async () => {
    await start({ name: 'calc', methods: { add: sum } });
    const caller = await start({ name: 'user' });
    const upload = caller.clientStream<{ n: number }, { sum: number; count: number }>('calc.add');
    for (let n = 1; n <= 100; n++) await upload.send({ n });
    expect(await upload.end()).toEqual({ sum: 5050, count: 100 });
    const [instance] = await infra.registry.listInstances('calc');
    expect(instance?.methods.add).toEqual({
      request: SDK_SCHEMA.tick,
      response: SDK_SCHEMA.sum,
      idempotent: false,
      kind: 'client',
    });
  });

  it('an invalid item rejects send and end with its seq; an invalid reply fails end on either side', async () => {
    await start({
      name: 'calc',
      methods: {
        add: sum,
        broken: {
          ...sum,
          handler: async (input: AsyncIterable<unknown>) => {
            for await (const _ of input);
            return { sum: -1 };
          },
        },
      },
    });
    const caller = await start({ name: 'user' });
    const upload = caller.clientStream('calc.add');
    await upload.send({ n: 1 });
    await expect(upload.send({ n: 'two' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { seq: 1, direction: 'request' },
    });
    await expect(upload.end()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { seq: 1 } });

    const broken = caller.clientStream('calc.broken', { validateItems: false });
    await broken.send({ n: 1 });
    await expect(broken.end()).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { seq: 0, direction: 'response', violations: [expect.objectContaining({ pointer: '/sum' })] },
    });
    const checked = caller.clientStream('calc.broken');
    await checked.send({ n: 1 });
    await expect(checked.end()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { direction: 'response' } });
  });
});

describe('method kinds in options', () => {
  it('kind server is the same as streams, and a name may not be in both', async () => {
    await start({
      name: 'clock',
      methods: {
        ticks: {
          kind: 'server',
          request: SDK_SCHEMA.ticksRequest,
          response: SDK_SCHEMA.tick,
          handler: async function* (req: { count: number }) {
            for (let n = 0; n < req.count; n++) yield { n };
          },
        },
      },
    });
    const caller = await start({ name: 'user' });
    const got: unknown[] = [];
    for await (const t of caller.stream('clock.ticks', { count: 3 })) got.push(t);
    expect(got).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    const [instance] = await infra.registry.listInstances('clock');
    expect(instance?.methods.ticks).toMatchObject({ response: SDK_SCHEMA.tick, streaming: true });
    expect(() =>
      createService({ name: 'x', version: '1', methods: { a: chat }, streams: { a: async function* () {} } }),
    ).toThrow(/option "streams.a" is also a method/);
  });

  it('refuses a bad kind, inputWindow on another kind, a bad inputWindow and unknown options, naming the option', () => {
    const make = (methods: unknown) => () => createService({ name: 'x', version: '1', methods: methods as never });
    expect(make({ a: { kind: 'duplex', handler: () => 1 } })).toThrow(
      /option "methods.a.kind" must be "unary", "server", "client" or "bidi"/,
    );
    expect(make({ a: { handler: () => 1, inputWindow: 4 } })).toThrow(
      /option "methods.a.inputWindow" applies only to methods of kind "bidi" or "client"/,
    );
    expect(make({ a: { ...chat, inputWindow: 0 } })).toThrow(
      /option "methods.a.inputWindow" must be an integer 1-10000/,
    );
    expect(make({ a: { ...chat, item: 'x' } })).toThrow(/option "methods.a.item" is not a known option/);
    expect(make({ a: { kind: 'bidi' } })).toThrow(/option "methods.a.handler" must be a function/);
  });

  it('fails start() with SCHEMA_NOT_FOUND naming methods.<name>.response', async () => {
    await expect(
      start({ name: 'chat', methods: { talk: { ...chat, response: 'https://schemas.switchyard.test/nope.json' } } }),
    ).rejects.toMatchObject({ code: 'SCHEMA_NOT_FOUND', details: { option: 'methods.talk.response' } });
  });
});
