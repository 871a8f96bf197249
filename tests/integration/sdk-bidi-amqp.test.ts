import { rmSync } from 'node:fs';
import { CancelledError } from '@switchyard/broker';
import {
  type CallContext,
  createInfrastructure,
  createService,
  type Infrastructure,
  type Service,
} from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SDK_SCHEMA, writeSdkSchemas } from '../fixtures/sdk-schemas.js';
import { uniqueNamespace } from '../harness/servers.js';

// SDK bidi and client streams over the real RabbitMQ and etcd, in two infrastructures (two
// connection sets, as two processes would have): the record in etcd says the kind, items
// cross the broker in order both ways, a bad item ends the stream naming its seq, cancel
// reaches the other side, and a slow consumer holds a fast producer back in each direction.

const logger = pino({ level: process.env.SWITCHYARD_TEST_LOG ?? 'silent' });
const namespace = uniqueNamespace('sdk-bidi');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let schemasDir: string;
let serverInfra: Infrastructure;
let callerInfra: Infrastructure;
let chat: Service;
let user: Service;
const WINDOW = 4;
/** Server-side progress, by test. */
const state = { consumed: 0, produced: 0, signal: undefined as AbortSignal | undefined, closed: false };

function infra(): Promise<Infrastructure> {
  return createInfrastructure({
    env: {
      SWITCHYARD_ETCD: inject('etcdEndpoint'),
      SWITCHYARD_AMQP: inject('amqpUrl'),
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_SCHEMAS: schemasDir,
    },
    logger,
    registryTtlSeconds: 2,
  });
}

type Text = { text: string; breakReply?: boolean };

beforeAll(async () => {
  schemasDir = writeSdkSchemas();
  serverInfra = await infra();
  callerInfra = await infra();
  chat = createService({
    name: 'chat',
    version: '1.0.0',
    infra: serverInfra,
    logger,
    methods: {
      talk: {
        kind: 'bidi',
        request: SDK_SCHEMA.echoRequest,
        response: SDK_SCHEMA.echoReply,
        handler: async function* (input: AsyncIterable<Text>) {
          let n = 0;
          for await (const m of input) {
            n++;
            yield m.breakReply ? { text: 1 } : { text: m.text.toUpperCase() };
          }
          yield { text: `bye after ${n}` };
        },
      },
      add: {
        kind: 'client',
        request: SDK_SCHEMA.tick,
        response: SDK_SCHEMA.sum,
        handler: async (input: AsyncIterable<{ n: number }>) => {
          let sum = 0;
          for await (const { n } of input) sum += n;
          return { sum };
        },
      },
      slowSink: {
        kind: 'client',
        inputWindow: WINDOW,
        handler: async (input: AsyncIterable<unknown>) => {
          for await (const _ of input) {
            await sleep(20);
            state.consumed++;
          }
          return { sum: state.consumed };
        },
      },
      firehose: {
        kind: 'bidi',
        handler: async function* (_input: AsyncIterable<unknown>, ctx: CallContext) {
          state.signal = ctx.signal;
          try {
            for (;;) {
              state.produced++;
              yield { n: state.produced, pad: 'x'.repeat(1000) };
            }
          } finally {
            state.closed = true;
          }
        },
      },
      quitter: {
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
  await chat.start();
  user = createService({ name: 'user', version: '1.0.0', infra: callerInfra, logger });
  await user.start();
}, 60_000);

afterAll(async () => {
  await Promise.all([user?.close(), chat?.close()]);
  await Promise.all([callerInfra?.close(), serverInfra?.close()]);
  rmSync(schemasDir, { recursive: true, force: true });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(20);
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

describe('SDK bidi and client streams over RabbitMQ', () => {
  it('registers the kinds in etcd, echoes 300 items in order both ways and answers after the half-close', async () => {
    const [instance] = await callerInfra.registry.listInstances('chat');
    expect(instance?.methods.talk).toEqual({
      request: SDK_SCHEMA.echoRequest,
      response: SDK_SCHEMA.echoReply,
      idempotent: false,
      kind: 'bidi',
    });
    expect(instance?.methods.add).toMatchObject({ kind: 'client', response: SDK_SCHEMA.sum });
    const call = user.bidi<Text, Text>('chat.talk', { window: 8 });
    const words = Array.from({ length: 300 }, (_, i) => `w${i}`);
    const sending = (async () => {
      for (const text of words) await call.send({ text });
      await call.end();
    })();
    const got: string[] = [];
    for await (const m of call) got.push(m.text);
    await sending;
    expect(got).toEqual([...words.map((w) => w.toUpperCase()), 'bye after 300']);
  });

  it('client streaming: the sum of 200 items as one reply', async () => {
    const upload = user.clientStream<{ n: number }, { sum: number }>('chat.add');
    for (let n = 1; n <= 200; n++) await upload.send({ n });
    expect(await upload.end()).toEqual({ sum: 20_100 });
  });

  it('validation both ways names the seq and ends the stream', async () => {
    const call = user.bidi('chat.talk');
    await call.send({ text: 'a' });
    await expect(call.send({ text: 5 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { seq: 1, direction: 'request' },
    });
    await expect(call.next()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { seq: 1 } });

    const bad = user.bidi('chat.talk', { validateItems: false });
    await bad.send({ text: 'ok' });
    await bad.send({ text: 'no', breakReply: true });
    const r = await failure(bad);
    expect(r.items).toEqual([{ text: 'OK' }]);
    expect(r).toMatchObject({ code: 'INVALID_ARGUMENT', details: { seq: 1, direction: 'response' } });
    await expect(user.clientStream('chat.talk').end()).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });

  it('a handler throwing CancelledError ends the stream CANCELLED on the caller', async () => {
    const call = user.bidi('chat.quitter');
    await call.send({ x: 1 });
    const r = await failure(call);
    expect(r).toMatchObject({ code: 'CANCELLED', items: [{ x: 1 }] });
  });

  it('backpressure, server to caller: a producer 100x faster than the consumer is held to its windows; cancel stops it', async () => {
    state.produced = 0;
    state.closed = false;
    const call = user.bidi('chat.firehose', { window: WINDOW });
    let consumed = 0;
    let worst = 0;
    for await (const _ of call) {
      await sleep(20);
      consumed++;
      worst = Math.max(worst, state.produced - consumed);
      if (consumed === 30) break;
    }
    expect(worst).toBeLessThanOrEqual(3 * WINDOW);
    await waitFor(() => state.closed);
    expect(state.signal?.aborted).toBe(true);
    await waitFor(() => chat.activeHandlers('firehose') === 0);
  });

  it('backpressure, caller to server: a producer 100x faster than the consumer is held to its windows', async () => {
    state.consumed = 0;
    const upload = user.clientStream('chat.slowSink');
    let produced = 0;
    let worst = 0;
    for (let i = 0; i < 30; i++) {
      await upload.send({ i, pad: 'x'.repeat(1000) });
      produced++;
      worst = Math.max(worst, produced - state.consumed);
    }
    expect(await upload.end()).toEqual({ sum: 30 });
    expect(worst).toBeLessThanOrEqual(3 * WINDOW);
    await waitFor(() => chat.activeHandlers('slowSink') === 0);
  });
});
