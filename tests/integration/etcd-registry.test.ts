import { EtcdRegistry, instanceKey, type Registry, type ServiceInstance } from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, isPut, runRegistryContract, WatchRecorder } from '../contract/registry.contract.js';
import { uniqueNamespace } from '../harness/servers.js';

const endpoint = inject('etcdEndpoint');

runRegistryContract('etcd', async (namespace) => {
  const raw = new Etcd3({ hosts: endpoint });
  const made: Registry[] = [];
  return {
    async registry(options) {
      const r = new EtcdRegistry({ endpoints: [endpoint], namespace, ...options });
      await r.start();
      made.push(r);
      return r;
    },
    async putRaw(service, id, value) {
      await raw.put(instanceKey(namespace, service, id)).value(value);
    },
    async cleanup() {
      await Promise.all(made.map((r) => r.close()));
      await raw.delete().prefix(`/${namespace}/`);
      raw.close();
    },
  };
});

describe('EtcdRegistry options', () => {
  it('rejects bad options with INVALID_OPTIONS naming the option', () => {
    const cases: [object, string][] = [
      [{}, 'endpoints'],
      [{ endpoints: [] }, 'endpoints'],
      [{ endpoints: ['not an url'] }, 'endpoints'],
      [{ endpoints: ['http://a:1', 'https://b:2'] }, 'endpoints'],
      [{ endpoints: endpoint, namespace: 'a/b' }, 'namespace'],
      [{ endpoints: endpoint, ttlSeconds: 1 }, 'ttlSeconds'],
      [{ endpoints: endpoint, ttlSeconds: 2.5 }, 'ttlSeconds'],
      [{ endpoints: endpoint, dialTimeoutMs: 0 }, 'dialTimeoutMs'],
      [{ endpoints: endpoint, logger: console.log }, 'logger'],
    ];
    for (const [opts, option] of cases) {
      expect(() => new EtcdRegistry(opts as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS', details: { option } }),
      );
    }
    const r = new EtcdRegistry({ endpoints: endpoint });
    expect(r.options).toMatchObject({
      endpoints: [endpoint],
      namespace: 'switchyard',
      ttlSeconds: 10,
      dialTimeoutMs: 5000,
    });
    expect(Object.isFrozen(r.options)).toBe(true);
  });

  it('fails fast with UNAVAILABLE when etcd is not there', async () => {
    const r = new EtcdRegistry({ endpoints: 'http://127.0.0.1:1', dialTimeoutMs: 1_000 });
    const t0 = Date.now();
    await expect(r.register({ service: 'svc', version: '1' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(r.listServices()).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(Date.now() - t0).toBeLessThan(5_000);
    await r.close();
  });
});

describe('EtcdRegistry against the real etcd', () => {
  const namespace = uniqueNamespace('registry-etcd');
  let a: EtcdRegistry;
  let b: EtcdRegistry;
  const warnings: { obj: object; msg?: string }[] = [];
  const logger = {
    debug() {},
    info() {},
    warn: (obj: object, msg?: string) => warnings.push({ obj, msg }),
    error() {},
  };

  beforeAll(async () => {
    a = new EtcdRegistry({ endpoints: [endpoint], namespace });
    b = new EtcdRegistry({ endpoints: [endpoint], namespace, logger });
    await Promise.all([a.start(), b.start()]);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('stores the documented key and JSON value', async () => {
    const reg = await a.register({ service: 'layout', version: '3', id: 'k1' });
    const raw = new Etcd3({ hosts: endpoint });
    try {
      const value = await raw.get(`/${namespace}/services/layout/k1`).string();
      expect(JSON.parse(value!)).toEqual(reg.instance);
      const lease = (await raw.get(`/${namespace}/services/layout/k1`).exec()).kvs[0]!.lease;
      expect(lease).not.toBe('0');
    } finally {
      raw.close();
      await reg.deregister();
    }
  });

  it('a watcher sees a registration quickly (20 registrations, p50/max printed)', async () => {
    const rec = new WatchRecorder(b);
    await rec.next((e) => e.type === 'sync');
    const delays: number[] = [];
    for (let i = 0; i < 20; i++) {
      const id = `lat-${i}`;
      const t0 = performance.now();
      const seen = rec.next(isPut(id), 5_000, rec.events.length);
      const reg = await a.register({ service: 'latency', version: '1', id });
      await seen;
      delays.push(performance.now() - t0);
      await reg.deregister();
    }
    await rec.handle.close();
    delays.sort((x, y) => x - y);
    const p50 = delays[Math.floor(delays.length / 2)]!;
    const max = delays.at(-1)!;
    console.log(`[registry etcd] register -> watch event over 20: p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
    expect(max).toBeLessThan(2_000);
  });

  it('re-registers by the next keepalive (TTL/3) when someone revokes its lease', async () => {
    const reg = await a.register({ service: 'revoked', version: '1', id: 'r1' });
    const key = `/${namespace}/services/revoked/r1`;
    const raw = new Etcd3({ hosts: endpoint });
    try {
      const lease = (await raw.get(key).exec()).kvs[0]!.lease;
      // Revoke through the JSON gateway, as an operator (or a foreign tool) could.
      const res = await fetch(`${endpoint}/v3/lease/revoke`, { method: 'POST', body: JSON.stringify({ ID: lease }) });
      expect(res.ok).toBe(true);
      const t0 = Date.now();
      await eventually(async () => {
        const kv = (await raw.get(key).exec()).kvs[0];
        expect(kv?.lease).toBeDefined();
        expect(kv!.lease).not.toBe(lease);
      }, 10_000);
      const delay = Date.now() - t0;
      console.log(`[registry etcd] revoked lease replaced and record re-put after ${delay} ms (TTL 10 s)`);
      expect(delay).toBeLessThan(10_000 / 3 + 2_000);
      expect(JSON.parse((await raw.get(key).string())!)).toEqual(reg.instance);
    } finally {
      raw.close();
      await reg.deregister();
    }
  });

  it('sees an instance registered by a foreign client through the JSON gateway (docs/registry.md)', async () => {
    const view = b.view();
    await view.ready;
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const post = async (path: string, body: object) => {
      const res = await fetch(`${endpoint}${path}`, { method: 'POST', body: JSON.stringify(body) });
      expect(res.ok).toBe(true);
      return (await res.json()) as Record<string, unknown>;
    };
    const grant = await post('/v3/lease/grant', { TTL: 10 });
    const record: ServiceInstance = {
      id: 'py-1',
      service: 'inventory',
      version: '0.3.0',
      address: { http: 'http://10.0.0.7:8000' },
      methods: { reserve: { request: 'inventory.reserve.request', idempotent: true } },
      events: { emits: [], subscribes: ['orders.created'] },
      metadata: { lang: 'python' },
      startedAt: '2024-05-01T10:00:00Z',
    };
    await post('/v3/kv/put', {
      key: b64(`/${namespace}/services/inventory/py-1`),
      value: b64(JSON.stringify(record)),
      lease: grant.ID,
    });
    await post('/v3/lease/keepalive', { ID: grant.ID });
    await eventually(() => expect(view.instances('inventory')).toEqual([record]));
    await post('/v3/lease/revoke', { ID: grant.ID });
    await eventually(() => expect(view.instances('inventory')).toEqual([]));
  });

  it('logs a warning for a foreign invalid record instead of crashing', async () => {
    const view = b.view();
    await view.ready;
    const raw = new Etcd3({ hosts: endpoint });
    try {
      await raw.put(`/${namespace}/services/foreign/bad`).value('{"id":"bad"}');
      await raw.put(`/${namespace}/services/foreign/deep/er`).value('{}');
      await eventually(() => expect(warnings.length).toBeGreaterThanOrEqual(2));
      expect(warnings.map((w) => w.msg)).toEqual(
        expect.arrayContaining([
          'registry: ignoring an invalid instance record',
          'registry: ignoring a key outside the layout <prefix><service>/<id>',
        ]),
      );
      expect(view.instances('foreign')).toEqual([]);
      expect(view.synced).toBe(true);
    } finally {
      await raw.delete().prefix(`/${namespace}/services/foreign/`);
      raw.close();
    }
  });
});
