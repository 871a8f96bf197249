import { rmSync } from 'node:fs';
import { createInfrastructure, createService, type Infrastructure, type Service } from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SDK_SCHEMA, writeSdkSchemas } from '../fixtures/sdk-schemas.js';
import { uniqueNamespace } from '../harness/servers.js';

// SDK streams over the real RabbitMQ and etcd, in two infrastructures (two connection
// sets, as two processes would have): the record in etcd says `streaming`, items cross
// the broker in order with the credit window, a bad item ends the stream with its code,
// breaking out stops the handler on the other side, and `ctx.stream` inherits the deadline.

const logger = pino({ level: process.env.SWITCHYARD_TEST_LOG ?? 'silent' });
const namespace = uniqueNamespace('sdk-stream');
let schemasDir: string;
let serverInfra: Infrastructure;
let callerInfra: Infrastructure;
let clock: Service;
let relay: Service;
let reader: Service;
const closed: string[] = [];
/** How relay's inner stream ended, by tag. */
const relayed = new Map<string, { n: number; code: string | undefined }>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

beforeAll(async () => {
  schemasDir = writeSdkSchemas();
  serverInfra = await infra();
  callerInfra = await infra();
  clock = createService({
    name: 'clock',
    version: '1.0.0',
    infra: serverInfra,
    logger,
    streams: {
      ticks: {
        request: SDK_SCHEMA.ticksRequest,
        item: SDK_SCHEMA.tick,
        handler: async function* (req: { count: number; badAt?: number }) {
          for (let n = 0; n < req.count; n++) yield n === req.badAt ? { n: -1 } : { n };
        },
      },
      forever: async function* (req: { tag: string; everyMs?: number }) {
        try {
          for (let n = 0; ; n++) {
            yield { n };
            if (req.everyMs) await sleep(req.everyMs);
          }
        } finally {
          closed.push(req.tag);
        }
      },
    },
  });
  await clock.start();
  // A method that streams from clock on behalf of its own caller: the deadline goes along.
  relay = createService({
    name: 'relay',
    version: '1.0.0',
    infra: callerInfra,
    logger,
    methods: {
      count: async (req: { tag: string }, ctx) => {
        let n = 0;
        try {
          // Its own timeout is a minute: only the inherited deadline can end this stream early.
          for await (const _ of ctx.stream('clock.forever', { tag: req.tag, everyMs: 20 }, { timeoutMs: 60_000 })) n++;
          relayed.set(req.tag, { n, code: 'OK' });
        } catch (err) {
          relayed.set(req.tag, { n, code: (err as { code?: string }).code });
        }
        return { n };
      },
    },
  });
  reader = createService({ name: 'reader', version: '1.0.0', infra: callerInfra, logger });
  await Promise.all([relay.start(), reader.start()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([reader?.close(), relay?.close(), clock?.close()]);
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

describe('SDK streams over RabbitMQ', () => {
  it('registers the method as streaming in etcd and delivers every item in order', async () => {
    const [instance] = await callerInfra.registry.listInstances('clock');
    expect(instance?.methods.ticks).toMatchObject({ streaming: true, response: SDK_SCHEMA.tick });
    const got: unknown[] = [];
    for await (const item of reader.stream('clock.ticks', { count: 500 }, { window: 8 })) got.push(item);
    expect(got).toEqual(Array.from({ length: 500 }, (_, n) => ({ n })));
  });

  it('a bad item ends the stream with STREAM_ITEM_INVALID after the good ones', async () => {
    const got: unknown[] = [];
    const err = await (async () => {
      try {
        for await (const item of reader.stream('clock.ticks', { count: 9, badAt: 4 }, { validateItems: false }))
          got.push(item);
      } catch (e) {
        return e as { code?: string; details?: unknown };
      }
    })();
    expect(err).toMatchObject({ code: 'STREAM_ITEM_INVALID', details: { seq: 4 } });
    expect(got).toHaveLength(4);
  });

  it('breaking out of the loop stops the handler in the other process', async () => {
    let n = 0;
    for await (const _ of reader.stream('clock.forever', { tag: 'break' })) if (++n === 20) break;
    await waitFor(() => closed.includes('break'));
    await waitFor(() => clock.activeHandlers('forever') === 0);
  });

  it('ctx.stream inherits the deadline of the call it serves', async () => {
    await expect(reader.call('relay.count', { tag: 'inherited' }, { timeoutMs: 600 })).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
    });
    await waitFor(() => relayed.has('inherited'));
    expect(relayed.get('inherited')?.code).toBe('DEADLINE_EXCEEDED');
    expect(relayed.get('inherited')?.n).toBeGreaterThan(0);
    await waitFor(() => closed.includes('inherited'));
  });
});
