import { rmSync } from 'node:fs';
import {
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

// Server-streaming methods through the SDK on the in-memory transport: `streams` on the
// serving side (item schema, admission, cancel, deadline, metrics) and `service.stream()`
// on the calling side (backpressure, cancel, caller-side item checks).

const logger = pino({ level: process.env.SWITCHYARD_TEST_LOG ?? 'silent' });
let schemasDir: string;
let infra: Infrastructure;
const services: Service[] = [];

beforeAll(async () => {
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

async function collect(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const item of it) out.push(item);
  return out;
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A `ticks` stream: `count` items `{ n }`, an invalid one at `badAt`. */
const ticks = {
  request: SDK_SCHEMA.ticksRequest,
  item: SDK_SCHEMA.tick,
  handler: async function* (req: { count: number; badAt?: number }) {
    for (let n = 0; n < req.count; n++) yield n === req.badAt ? { n: 'not a number' } : { n };
  },
};

describe('service.stream() against a `streams` method', () => {
  it('delivers every item in order and registers the method as streaming with its item schema', async () => {
    await start({ name: 'clock', streams: { ticks } });
    const caller = await start({ name: 'reader' });
    expect(await collect(caller.stream('clock.ticks', { count: 50 }))).toEqual(
      Array.from({ length: 50 }, (_, n) => ({ n })),
    );
    const [instance] = await infra.registry.listInstances('clock');
    expect(instance?.methods.ticks).toEqual({
      request: SDK_SCHEMA.ticksRequest,
      response: SDK_SCHEMA.tick,
      idempotent: false,
      streaming: true,
    });
  });

  it('ends the stream with STREAM_ITEM_INVALID at the first item that fails the item schema', async () => {
    await start({ name: 'clock', streams: { ticks } });
    const caller = await start({ name: 'reader' });
    // validateItems off: the serving side must catch it, not the caller.
    const r = await failure(caller.stream('clock.ticks', { count: 10, badAt: 3 }, { validateItems: false }));
    expect(r.code).toBe('STREAM_ITEM_INVALID');
    expect(r.details).toMatchObject({ seq: 3, schema: SDK_SCHEMA.tick });
    expect(r.items).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
  });

  it('refuses an invalid request before sending it, and the server refuses it too', async () => {
    let ran = 0;
    await start({
      name: 'clock',
      streams: {
        ticks: {
          ...ticks,
          handler: async function* () {
            ran++;
            yield { n: 0 };
          },
        },
      },
    });
    const caller = await start({ name: 'reader' });
    expect((await failure(caller.stream('clock.ticks', { count: -1 }))).code).toBe('INVALID_ARGUMENT');
    // Straight through the transport, past the caller's check: the server's own check answers.
    const direct = infra.transport.stream('clock', 'ticks', { count: 'x' });
    expect((await failure(direct)).code).toBe('INVALID_ARGUMENT');
    expect(ran).toBe(0);
  });

  it('holds the producer back while the consumer does not read (the credit window)', async () => {
    let produced = 0;
    await start({
      name: 'firehose',
      streams: {
        items: async function* () {
          for (let n = 0; n < 10_000; n++) {
            produced++;
            yield { n };
          }
        },
      },
    });
    const caller = await start({ name: 'reader' });
    const it = caller.stream('firehose.items', {}, { window: 4 });
    expect(await it.next()).toEqual({ done: false, value: { n: 0 } });
    await sleep(200); // plenty for 10,000 items if nothing held the producer back
    expect(produced).toBeLessThanOrEqual(4 + 4);
    const rest = await collect(it);
    expect(rest).toHaveLength(9_999);
  });

  it('breaking out of the loop cancels the handler and frees its bulkhead slot', async () => {
    let closed = false;
    let aborted = false;
    const clock = await start({
      name: 'clock',
      streams: {
        forever: async function* (_req: unknown, ctx) {
          try {
            for (let n = 0; ; n++) yield { n };
          } finally {
            closed = true;
            aborted = ctx.signal.aborted;
          }
        },
      },
    });
    const caller = await start({ name: 'reader' });
    let seen = 0;
    for await (const _ of caller.stream('clock.forever', {})) {
      if (++seen === 5) break;
    }
    await vi_eventually(() => closed);
    expect(aborted).toBe(true);
    expect(clock.activeHandlers('forever')).toBe(0);
  });

  it('an open stream holds its bulkhead slot until it ends: BULKHEAD_FULL for the next one meanwhile', async () => {
    const clock = await start({
      name: 'clock',
      streams: {
        forever: {
          maxConcurrent: 1,
          handler: async function* () {
            for (let n = 0; ; n++) yield { n };
          },
        },
      },
    });
    const caller = await start({ name: 'reader' });
    const first = caller.stream('clock.forever', {});
    expect((await first.next()).done).toBe(false);
    expect(clock.activeHandlers('forever')).toBe(1);
    expect((await failure(caller.stream('clock.forever', {}))).code).toBe('BULKHEAD_FULL');
    await first.return?.();
    await vi_eventually(() => clock.activeHandlers('forever') === 0);
    const again = caller.stream('clock.forever', {});
    expect((await again.next()).value).toEqual({ n: 0 });
    await again.return?.();
  });

  it('fails with CANCELLED on the signal and DEADLINE_EXCEEDED at the deadline of the whole stream', async () => {
    const signals: AbortSignal[] = [];
    await start({
      name: 'slow',
      streams: {
        drip: async function* (_req: unknown, ctx) {
          signals.push(ctx.signal);
          for (let n = 0; ; n++) {
            yield { n };
            await sleep(20);
          }
        },
      },
    });
    const caller = await start({ name: 'reader' });
    const controller = new AbortController();
    const cancelled = caller.stream('slow.drip', {}, { signal: controller.signal });
    expect((await cancelled.next()).done).toBe(false);
    controller.abort();
    expect((await failure(cancelled)).code).toBe('CANCELLED');

    const r = await failure(caller.stream('slow.drip', {}, { timeoutMs: 300 }));
    expect(r.code).toBe('DEADLINE_EXCEEDED');
    expect(r.items.length).toBeGreaterThan(0);
    await vi_eventually(() => signals.length === 2 && signals.every((s) => s.aborted));
  });

  it('keeps streams and unary calls apart', async () => {
    await start({ name: 'clock', streams: { ticks }, methods: { now: () => ({ n: 1 }) } });
    const caller = await start({ name: 'reader' });
    await expect(caller.call('clock.ticks', { count: 1 })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect((await failure(caller.stream('clock.now', {}))).code).toBe('FAILED_PRECONDITION');
    expect((await failure(caller.stream('clock.nope', {}))).code).toBe('UNIMPLEMENTED');
    expect((await failure(caller.stream('nobody.ticks', {}))).code).toBe('SERVICE_NOT_FOUND');
  });

  it('checks items on the caller against the registered item schema, when the server did not', async () => {
    // A server in another language that registered an item schema but yields bad items.
    infra = await createInfrastructure({ env: { SWITCHYARD_SCHEMAS: schemasDir }, logger });
    const server = await infra.transport.serve('polyglot', {
      ticks: {
        streaming: true,
        handler: async function* () {
          yield { n: 0 };
          yield { n: -1 };
          yield { n: 2 };
        },
      },
    });
    const reg = await infra.registry.register({
      service: 'polyglot',
      version: '1',
      methods: { ticks: { response: SDK_SCHEMA.tick, streaming: true } },
    });
    const caller = await start({ name: 'reader' });
    const r = await failure(caller.stream('polyglot.ticks', {}));
    expect(r.code).toBe('STREAM_ITEM_INVALID');
    expect(r.items).toEqual([{ n: 0 }]);
    expect(r.details?.violations).toEqual([expect.objectContaining({ pointer: '/n' })]);
    expect(await collect(caller.stream('polyglot.ticks', {}, { validateItems: false }))).toHaveLength(3);
    await reg.deregister();
    await server.close();
  });

  it('counts handled and outgoing streams in the service metrics', async () => {
    const metricsRegistry = new MetricsRegistry();
    await start({ name: 'clock', streams: { ticks }, metricsRegistry });
    const caller = await start({ name: 'reader', metricsRegistry });
    await collect(caller.stream('clock.ticks', { count: 3 }));
    await failure(caller.stream('clock.ticks', { count: 3, badAt: 0 }, { validateItems: false }));
    await vi_eventually(async () => {
      const handled = (await metricsRegistry.getSingleMetric('switchyard_service_handled_total')?.get())?.values ?? [];
      return handled.length === 2;
    });
    const handled = (await metricsRegistry.getSingleMetric('switchyard_service_handled_total')!.get()).values;
    const byCode = Object.fromEntries(handled.map((v) => [v.labels.code, v.value]));
    expect(byCode).toEqual({ OK: 1, STREAM_ITEM_INVALID: 1 });
    const called = (await metricsRegistry.getSingleMetric('switchyard_service_calls_total')!.get()).values;
    expect(Object.fromEntries(called.map((v) => [v.labels.code, v.value]))).toEqual({ OK: 1, STREAM_ITEM_INVALID: 1 });
  });
});

describe('streams options', () => {
  it('refuses a name that is both a method and a stream, and an unknown option', () => {
    expect(() =>
      createService({ name: 'x', version: '1', methods: { a: () => 1 }, streams: { a: ticks.handler } }),
    ).toThrow(/option "streams.a" is also a method/);
    expect(() =>
      createService({ name: 'x', version: '1', streams: { a: { ...ticks, response: 'y' } as never } }),
    ).toThrow(/option "streams.a.response" is not a known option/);
  });

  it('fails start() with SCHEMA_NOT_FOUND naming streams.<name>.item', async () => {
    await expect(
      start({ name: 'clock', streams: { ticks: { ...ticks, item: 'https://schemas.switchyard.test/nope.json' } } }),
    ).rejects.toMatchObject({ code: 'SCHEMA_NOT_FOUND', details: { option: 'streams.ticks.item' } });
  });
});

async function vi_eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}
