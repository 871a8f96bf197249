/**
 * `ctx.store` in handlers: the infrastructure's store named by SWITCHYARD_STORE. A method
 * on real etcd + RabbitMQ counts with compare-and-set on PostgreSQL (retrying its own
 * VERSION_CONFLICTs), 30 concurrent calls through two instances lose no increment; the
 * count is in PostgreSQL for anyone to read. Without SWITCHYARD_STORE the store is memory.
 * `ctx.cache` with SWITCHYARD_CACHE on Redis loads a key once for 40 concurrent calls.
 */
import { randomBytes } from 'node:crypto';
import {
  type CallContext,
  createInfrastructure,
  createService,
  type Infrastructure,
  PostgresStore,
  type Service,
} from '@switchyard/sdk';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueNamespace } from '../harness/servers.js';

const namespace = uniqueNamespace('svc-store');
const infras: Infrastructure[] = [];
const services: Service[] = [];

async function increment(_payload: unknown, ctx: CallContext): Promise<{ count: number }> {
  for (;;) {
    const [current] = await ctx.store.read('count', { table: 'counters' });
    const count = ((current?.value as number | undefined) ?? 0) + 1;
    try {
      await ctx.store.write('count', count, { table: 'counters', ifVersion: current?.version ?? 0 });
      return { count };
    } catch (err) {
      if ((err as { code?: string }).code !== 'VERSION_CONFLICT') throw err;
    }
  }
}

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const infra = await createInfrastructure({
      env: {
        SWITCHYARD_ETCD: inject('etcdEndpoint'),
        SWITCHYARD_AMQP: inject('amqpUrl'),
        SWITCHYARD_NAMESPACE: namespace,
        SWITCHYARD_SCHEMAS: 'none',
        SWITCHYARD_STORE: inject('postgresUrl'),
      },
      logger: pino({ level: 'warn' }),
    });
    infras.push(infra);
    const service = createService({
      name: 'counter',
      version: '1.0.0',
      infra,
      methods: { increment: { handler: increment } },
    });
    await service.start();
    services.push(service);
  }
});

afterAll(async () => {
  for (const s of services) await s.close();
  for (const i of infras) await i.close();
  const client = new pg.Client(inject('postgresUrl'));
  await client.connect();
  await client.query('DELETE FROM switchyard_store WHERE database = $1', [namespace]);
  await client.end();
});

describe('ctx.store', () => {
  it('SWITCHYARD_STORE=postgres://…: handlers share PostgreSQL; concurrent compare-and-set loses nothing', async () => {
    expect(infras[0]!.store.backend).toBe('postgres');
    const caller = services[0]!;
    const results = await Promise.all(
      Array.from({ length: 30 }, () => caller.call('counter.increment', {}) as Promise<{ count: number }>),
    );
    expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const reader = new PostgresStore({ url: inject('postgresUrl'), database: namespace });
    try {
      expect((await reader.read('count', { table: 'counters' }))[0]).toMatchObject({ value: 30, version: 30 });
    } finally {
      await reader.close();
    }
  });

  it('without SWITCHYARD_STORE the store is the embedded memory one', async () => {
    const infra = await createInfrastructure({ env: {}, logger: pino({ level: 'silent' }) });
    try {
      expect(infra.store.backend).toBe('memory');
      await infra.store.write('k', 1);
      expect((await infra.store.read('k'))[0]!.value).toBe(1);
    } finally {
      await infra.close();
    }
  });

  it('ctx.cache: SWITCHYARD_CACHE=redis://… is a local LRU in front of Redis; handlers load once per key', async () => {
    const env = {
      SWITCHYARD_ETCD: inject('etcdEndpoint'),
      SWITCHYARD_AMQP: inject('amqpUrl'),
      SWITCHYARD_NAMESPACE: `${namespace}-c`,
      SWITCHYARD_SCHEMAS: 'none',
      SWITCHYARD_CACHE: inject('redisUrl'),
    };
    const infra = await createInfrastructure({ env, logger: pino({ level: 'warn' }) });
    let loads = 0;
    const service = createService({
      name: 'prices',
      version: '1.0.0',
      infra,
      methods: {
        get: {
          handler: (p: { sku: string }, ctx) =>
            ctx.cache.getOrLoad(`price:${p.sku}`, async () => {
              loads++;
              return { sku: p.sku, amount: 1250 };
            }),
        },
      },
    });
    try {
      expect(infra.cache.kind).toBe('two-level');
      await service.start();
      const answers = await Promise.all(Array.from({ length: 40 }, () => service.call('prices.get', { sku: 'MUG' })));
      expect(answers.every((a) => (a as { amount: number }).amount === 1250)).toBe(true);
      expect(loads).toBe(1);
      await service.cache.delete('price:MUG');
    } finally {
      await service.close();
      await infra.close();
    }
    const embedded = await createInfrastructure({ env: {}, logger: pino({ level: 'silent' }) });
    expect(embedded.cache.kind).toBe('memory');
    await embedded.close();
  });

  it('a bad SWITCHYARD_STORE stops createInfrastructure with the variable named', async () => {
    await expect(
      createInfrastructure({
        env: { SWITCHYARD_STORE: `mysql://${randomBytes(2).toString('hex')}` },
        logger: pino({ level: 'silent' }),
      }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS', message: expect.stringMatching(/SWITCHYARD_STORE must be/) });
  });
});
