/**
 * Dynamic config on a real etcd: the ConfigSource contract on the run's etcd; services on
 * real etcd and RabbitMQ whose watchers all see an operator's edit (one transaction, one
 * change, validated as one), with the time from the write to the last watcher reported;
 * and, on a private etcd that the test stops and starts again, a config that keeps its
 * last values and says it is not synced while etcd is gone, then resyncs and sees the
 * edit made meanwhile.
 */
import {
  configKey,
  createEtcdClient,
  createService,
  DynamicConfig,
  EtcdConfigSource,
  type Infrastructure,
  type Service,
  writeEtcdConfig,
} from '@switchyard/sdk';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runConfigSourceContract } from '../contract/config-source.contract.js';
import { serversInfra } from '../fixtures/gateway-harness.js';
import { PrivateEtcd } from '../harness/etcd.js';
import { uniqueNamespace } from '../harness/servers.js';

const endpoint = inject('etcdEndpoint');
const quiet = pino({ level: 'silent' });
let client: Etcd3;

beforeAll(() => {
  client = createEtcdClient([endpoint]);
});
afterAll(() => client.close());

runConfigSourceContract('etcd', async () => {
  const namespace = uniqueNamespace('cfgsrc');
  const source = new EtcdConfigSource({ client, namespace, scope: 'svc', logger: quiet });
  return {
    source,
    async write(entries) {
      const set: Record<string, unknown> = {};
      const unset: string[] = [];
      for (const [path, value] of Object.entries(entries)) {
        if (value === undefined) unset.push(path);
        else set[path] = value;
      }
      await writeEtcdConfig(client, namespace, 'svc', { set, unset });
    },
    cleanup: async () => {
      await client.delete().prefix(`/${namespace}/`);
    },
  };
});

const SCHEMA = {
  type: 'object',
  properties: {
    discount: {
      type: 'object',
      properties: { percent: { type: 'integer', minimum: 0, maximum: 90 }, code: { type: 'string' } },
      // Only valid together: a half-applied edit would be refused.
      dependentRequired: { percent: ['code'], code: ['percent'] },
    },
  },
};

describe('services watching etcd', () => {
  const namespace = uniqueNamespace('cfg');
  let infra: Infrastructure;
  const services: Service[] = [];

  beforeAll(async () => {
    infra = await serversInfra({ etcd: endpoint, amqp: inject('amqpUrl'), namespace });
    for (let i = 0; i < 3; i++) {
      const s = createService({
        name: 'pricing',
        version: '1.0.0',
        infra,
        instanceId: `pricing-${i}`,
        config: { schema: SCHEMA, scope: 'pricing', env: false },
        methods: { discount: (_p: unknown, ctx) => ctx.config.get('discount', {}) },
      });
      services.push(s);
    }
    await Promise.all(services.map((s) => s.start()));
  });
  afterAll(async () => {
    for (const s of services) await s.close();
    await infra?.close();
    await client.delete().prefix(`/${namespace}/`);
  });

  it('an edit of two keys in one transaction reaches every watcher as one valid change', async () => {
    const seenAt: number[] = [];
    const seen: unknown[] = [];
    const all = Promise.all(
      services.map(
        (s) =>
          new Promise<void>((resolve) => {
            const off = s.config.watch('discount', (next) => {
              seenAt.push(performance.now());
              seen.push(next);
              off();
              resolve();
            });
          }),
      ),
    );
    const t0 = performance.now();
    await writeEtcdConfig(client, namespace, 'pricing', { set: { discount: { percent: 15, code: 'WINTER' } } });
    await all;
    console.log(
      `config: etcd write → all ${services.length} watchers in ${(Math.max(...seenAt) - t0).toFixed(1)} ms (goal < 100 ms; figure, not asserted)`,
    );
    expect(seen).toEqual(services.map(() => ({ percent: 15, code: 'WINTER' })));
    for (const s of services) expect(s.config.status().lastRefusal).toBeUndefined();
    expect(await services[0]!.call('pricing.discount', {})).toEqual({ percent: 15, code: 'WINTER' });
  });

  it('a key written on its own that breaks the schema is refused by every instance; the last good value keeps serving', async () => {
    await client.put(configKey(namespace, 'pricing', ['discount', 'percent'])).value('95');
    await waitFor(() => services.every((s) => s.config.status().lastRefusal !== undefined));
    for (const s of services) {
      expect(s.config.get('discount.percent')).toBe(15);
      expect(s.config.status().lastRefusal?.violations).toEqual([
        expect.objectContaining({ pointer: '/discount/percent' }),
      ]);
    }
    await writeEtcdConfig(client, namespace, 'pricing', { set: { 'discount.percent': 20, 'discount.code': 'SPRING' } });
    await waitFor(() => services.every((s) => s.config.get('discount.code') === 'SPRING'));
    // A raw etcdctl-style write that is not JSON is read as text.
    await client.put(configKey(namespace, 'pricing', ['discount', 'code'])).value('plain text');
    await waitFor(() => services.every((s) => s.config.get('discount.code') === 'plain text'));
  });

  it('unset removes a subtree in one change', async () => {
    await writeEtcdConfig(client, namespace, 'pricing', { unset: ['discount'] });
    await waitFor(() => services.every((s) => s.config.get('discount') === undefined));
    expect(await client.getAll().prefix(`/${namespace}/config/pricing/`).keys()).toEqual([]);
  });
});

describe('etcd stopped and started again (private etcd)', () => {
  let etcd: PrivateEtcd;
  let own: Etcd3;
  let config: DynamicConfig;
  let source: EtcdConfigSource;
  const namespace = uniqueNamespace('cfgfault');

  beforeAll(async () => {
    etcd = await PrivateEtcd.start();
    own = createEtcdClient([etcd.endpoint]);
    await writeEtcdConfig(own, namespace, 'svc', { set: { mode: 'first' } });
    source = new EtcdConfigSource({ client: own, namespace, scope: 'svc', logger: quiet });
    config = new DynamicConfig({ remote: source, env: false, logger: quiet });
    await config.start();
  }, 60_000);
  afterAll(async () => {
    await config?.close();
    await source?.close();
    own?.close();
    await etcd?.close();
  });

  it('keeps the last values and reports not synced while etcd is down, then resyncs and sees the edit made meanwhile', async () => {
    expect(config.synced).toBe(true);
    expect(config.get('mode')).toBe('first');
    await etcd.stop();
    await waitFor(() => !config.synced, 20_000);
    expect(config.status().sources.find((s) => s.name.startsWith('etcd'))?.synced).toBe(false);
    expect(config.get('mode')).toBe('first');

    await etcd.resume();
    // Another client writes while ours is still reconnecting.
    const writer = createEtcdClient([etcd.endpoint]);
    try {
      await writeEtcdConfig(writer, namespace, 'svc', { set: { mode: 'second' } });
    } finally {
      writer.close();
    }
    await waitFor(() => config.synced && config.get('mode') === 'second', 30_000);
    expect(config.status().synced).toBe(true);
  }, 90_000);
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`condition not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
