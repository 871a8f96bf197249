import { EtcdRouteSource, RouteStore, routeKey, routesPrefix } from '@switchyard/gateway';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PrivateEtcd } from '../harness/etcd.js';
import { uniqueNamespace } from '../harness/servers.js';

function route(id: string, path: string, service = 'svc', extra: Record<string, unknown> = {}) {
  return { id, match: { path }, target: { type: 'http', service }, ...extra };
}

/** Resolves once `check` holds for the store (checked now and after every store event). */
function until(store: RouteStore, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`condition not met within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = store.subscribe(() => {
      if (!check()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

async function eventually(check: () => void, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

describe('routes in etcd (shared etcd)', () => {
  const endpoint = inject('etcdEndpoint');
  const namespace = uniqueNamespace('routes-etcd');
  let raw: Etcd3;
  let store: RouteStore;
  const put = (id: string, value: unknown) =>
    raw.put(routeKey(namespace, id)).value(typeof value === 'string' ? value : JSON.stringify(value));

  beforeAll(async () => {
    raw = new Etcd3({ hosts: endpoint });
    await put(
      'orders',
      route('orders', '/api/orders/*', 'orders', { target: { type: 'http', service: 'orders', stripPrefix: '/api' } }),
    );
    await put('payments-charge', {
      id: 'payments-charge',
      match: { path: '/api/payments/charge', methods: ['POST'] },
      target: { type: 'rpc', service: 'payments', method: 'charge' },
    });
    // Another namespace's routes must stay invisible.
    await raw.put(routeKey(`${namespace}-other`, 'foreign')).value(JSON.stringify(route('foreign', '/f')));
    store = new RouteStore({ source: new EtcdRouteSource({ endpoints: endpoint, namespace, dialTimeoutMs: 2_000 }) });
    await store.start();
  });

  afterAll(async () => {
    await store?.close();
    await raw?.delete().prefix(routesPrefix(namespace)).exec();
    await raw
      ?.delete()
      .prefix(routesPrefix(`${namespace}-other`))
      .exec();
    raw?.close();
  });

  it('lists the routes under /<ns>/routes/ at start, and no others', () => {
    expect(store.synced).toBe(true);
    expect(store.connected).toBe(true);
    expect(store.table.routes.map((r) => r.id)).toEqual(['orders', 'payments-charge']);
    expect(store.match('api.example.com', 'GET', '/api/orders/o-1')).toMatchObject({
      route: { id: 'orders' },
      upstreamPath: '/orders/o-1',
    });
  });

  it('applies a write within 100 ms (p50/max over 20 writes printed; only a generous bound asserted)', async () => {
    const delays: number[] = [];
    /** From etcd's acknowledgement of the put to the new table (0 when the table was first). */
    const afterAck: number[] = [];
    for (let i = 0; i < 20; i++) {
      const service = `hot-v${i}`;
      const t0 = performance.now();
      let seenAt = 0;
      const seen = until(store, () => store.table.get('hot')?.target.service === service).then(() => {
        seenAt = performance.now();
      });
      await put('hot', route('hot', '/hot', service));
      const ackAt = performance.now();
      await seen;
      delays.push(seenAt - t0);
      afterAck.push(Math.max(0, seenAt - ackAt));
    }
    const t0 = performance.now();
    const gone = until(store, () => store.table.get('hot') === undefined);
    await raw.delete().key(routeKey(namespace, 'hot')).exec();
    await gone;
    const deleteMs = performance.now() - t0;
    const sorted = [...delays].sort((a, b) => a - b);
    const ack = [...afterAck].sort((a, b) => a - b);
    console.log(
      `etcd write -> route table, from etcd's put acknowledgement: p50 ${percentile(ack, 0.5).toFixed(1)} ms, max ${ack.at(-1)!.toFixed(1)} ms`,
    );
    console.log(
      `etcd write -> route table: p50 ${percentile(sorted, 0.5).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms over ${delays.length} writes; delete ${deleteMs.toFixed(1)} ms`,
    );
    expect(sorted.at(-1)!).toBeLessThan(1_000);
  });

  it('rejects a bad write, keeps the last good version of that id, and keeps applying other routes', async () => {
    const good = store.table.get('orders');
    expect(good).toBeDefined();
    const rejected = until(store, () => store.rejected().some((r) => r.id === 'orders'));
    await put(
      'orders',
      route('orders', '/api/orders/:id', 'orders', {
        target: { type: 'http', service: 'orders', rewrite: '/v1/:nope' },
      }),
    );
    await rejected;
    expect(store.rejected().find((r) => r.id === 'orders')).toMatchObject({
      origin: routeKey(namespace, 'orders'),
      servingLastGood: true,
      violations: [{ pointer: '/target/rewrite', message: expect.stringMatching(/:nope/) }],
    });
    expect(store.table.get('orders')).toBe(good);

    const added = until(store, () => store.table.get('later') !== undefined);
    await put('later', route('later', '/later'));
    await added;
    expect(store.table.get('orders')).toBe(good);

    const fixed = until(store, () => store.table.get('orders')?.pattern.source === '/api/orders/:id');
    await put('orders', route('orders', '/api/orders/:id', 'orders'));
    await fixed;
    expect(store.rejected().some((r) => r.id === 'orders')).toBe(false);
  });

  it('rejects values that are not JSON, bodies whose id differs from the key, and keys outside the layout', async () => {
    const done = until(store, () => store.rejected().length >= 3);
    await put('not-json', '{ id: oops');
    await put('mismatch', route('something-else', '/m'));
    await raw.put(`${routesPrefix(namespace)}nested/deeper`).value(JSON.stringify(route('deeper', '/d')));
    await done;
    const byOrigin = Object.fromEntries(store.rejected().map((r) => [r.origin, r.violations[0]?.message]));
    expect(byOrigin).toEqual({
      [routeKey(namespace, 'not-json')]: 'value is not valid JSON',
      [routeKey(namespace, 'mismatch')]: expect.stringMatching(/must equal the id in the route's key \("mismatch"\)/),
      [`${routesPrefix(namespace)}nested/deeper`]: expect.stringMatching(/outside the layout/),
    });
    for (const id of ['not-json', 'mismatch', 'something-else', 'deeper']) expect(store.table.get(id)).toBeUndefined();
    const cleared = until(store, () => store.rejected().length === 0);
    await raw.delete().key(routeKey(namespace, 'not-json')).exec();
    await raw.delete().key(routeKey(namespace, 'mismatch')).exec();
    await raw
      .delete()
      .key(`${routesPrefix(namespace)}nested/deeper`)
      .exec();
    await cleared;
  });

  it('a shared client is left open by the source', async () => {
    const shared = new Etcd3({ hosts: endpoint });
    const source = new EtcdRouteSource({ client: shared, namespace });
    const s = new RouteStore({ source });
    await s.start();
    expect(s.table.get('payments-charge')?.target).toEqual({ type: 'rpc', service: 'payments', method: 'charge' });
    await s.close();
    expect((await shared.get(routeKey(namespace, 'payments-charge')).string()) ?? '').toMatch(/payments/);
    shared.close();
  });

  it('validates its options, naming the bad one', () => {
    expect(() => new EtcdRouteSource({})).toThrow(/option "endpoints"/);
    expect(() => new EtcdRouteSource({ endpoints: 'nope' })).toThrow(/option "endpoints"/);
    expect(() => new EtcdRouteSource({ endpoints: endpoint, namespace: 'a/b' })).toThrow(/option "namespace"/);
    expect(() => new EtcdRouteSource({ endpoints: endpoint, client: raw })).toThrow(/option "endpoints"/);
  });
});

describe('etcd stopped and restarted (private etcd)', () => {
  const namespace = uniqueNamespace('routes-etcd-restart');
  let etcd: PrivateEtcd;
  let raw: Etcd3;
  let store: RouteStore;
  const put = (id: string, value: unknown) => raw.put(routeKey(namespace, id)).value(JSON.stringify(value));

  beforeAll(async () => {
    etcd = await PrivateEtcd.start();
    raw = new Etcd3({ hosts: etcd.endpoint });
    await put('a', route('a', '/a'));
    store = new RouteStore({
      source: new EtcdRouteSource({ endpoints: etcd.endpoint, namespace, dialTimeoutMs: 1_000 }),
    });
    await store.start();
  }, 30_000);

  afterAll(async () => {
    await store?.close();
    raw?.close();
    await etcd?.close();
  });

  it('keeps serving the last table while etcd is down, reports not synced, and catches up after', async () => {
    expect(store.synced).toBe(true);
    const before = store.table;

    await etcd.stop();
    await eventually(() => {
      expect(store.synced).toBe(false);
      expect(store.connected).toBe(false);
    });
    await new Promise((r) => setTimeout(r, 1_500)); // several failed retries
    expect(store.table).toBe(before);
    expect(store.match(undefined, 'GET', '/a')).toMatchObject({ route: { id: 'a' } });

    await etcd.resume();
    const t0 = performance.now();
    // Written as soon as etcd is back, possibly before the source reconnects: the fresh
    // list (or the watch) must pick these up either way.
    await put('b', route('b', '/b'));
    await raw.delete().key(routeKey(namespace, 'a')).exec();
    await until(
      store,
      () => store.synced && store.table.get('b') !== undefined && store.table.get('a') === undefined,
      10_000,
    );
    console.log(`routes resynced ${(performance.now() - t0).toFixed(0)} ms after etcd answered again`);
    expect(store.connected).toBe(true);

    const added = until(store, () => store.table.get('c') !== undefined);
    await put('c', route('c', '/c'));
    await added;
    expect(store.table.routes.map((r) => r.id)).toEqual(['b', 'c']);
  }, 40_000);
});
