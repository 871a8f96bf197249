import { MemoryRouteSource, RouteStore, type RouteStoreEvent, type RoutingLogger } from '@switchyard/gateway';
import { afterEach, describe, expect, it } from 'vitest';

function http(id: string, path: string, service = 'svc', extra: Record<string, unknown> = {}) {
  return { id, match: { path }, target: { type: 'http', service }, ...extra };
}

/** A logger that remembers what was logged, to prove a rejection is logged exactly once. */
function recordingLogger() {
  const lines: { level: string; obj: object; msg: string | undefined }[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj, msg });
    };
  const logger: RoutingLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

const stores: RouteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

async function started(source: MemoryRouteSource, logger?: RoutingLogger) {
  const store = new RouteStore(logger ? { source, logger } : { source });
  stores.push(store);
  const events: RouteStoreEvent[] = [];
  store.subscribe((e) => events.push(e));
  await store.start();
  return { store, events };
}

const serviceOf = (store: RouteStore, id: string) => store.table.get(id)?.target.service;

describe('RouteStore with a MemoryRouteSource', () => {
  it('loads the first snapshot, then swaps in a new table for every change', async () => {
    const source = new MemoryRouteSource([http('a', '/a'), http('b', '/b')]);
    const { store, events } = await started(source);
    expect(store.synced).toBe(true);
    expect(store.connected).toBe(true);
    expect(store.version).toBe(1);
    const first = store.table;
    expect(first.routes.map((r) => r.id)).toEqual(['a', 'b']);

    source.put(http('c', '/c'));
    source.put(http('a', '/a', 'svc2'));
    source.delete('b');
    expect(store.version).toBe(4);
    expect(store.table.routes.map((r) => r.id)).toEqual(['a', 'c']);
    expect(serviceOf(store, 'a')).toBe('svc2');
    // A table already taken is never modified: requests in flight keep a consistent view.
    expect(first.routes.map((r) => r.id)).toEqual(['a', 'b']);
    expect(first.get('a')?.target.service).toBe('svc');

    const updates = events.filter((e) => e.type === 'updated');
    expect(updates.map((e) => (e.type === 'updated' ? [e.added, e.changed, e.removed] : []))).toEqual([
      [['a', 'b'], [], []],
      [['c'], [], []],
      [[], ['a'], []],
      [[], [], ['b']],
    ]);
  });

  it('does not rebuild the table when nothing changed, and reuses unchanged compiled routes', async () => {
    const source = new MemoryRouteSource([http('a', '/a'), http('b', '/b')]);
    const { store } = await started(source);
    const a = store.table.get('a');
    source.put(http('a', '/a')); // same content
    expect(store.version).toBe(1);
    source.put(http('b', '/b2'));
    expect(store.version).toBe(2);
    expect(store.table.get('a')).toBe(a);
  });

  it('starts with an empty table when the source has no routes', async () => {
    const { store, events } = await started(new MemoryRouteSource());
    expect(store.version).toBe(1);
    expect(store.table.size).toBe(0);
    expect(store.match('h', 'GET', '/')).toBeUndefined();
    expect(events).toHaveLength(1);
  });

  it('matches through the current table', async () => {
    const source = new MemoryRouteSource([http('a', '/a/:x')]);
    const { store } = await started(source);
    expect(store.match(undefined, 'GET', '/a/1')).toMatchObject({ route: { id: 'a' }, params: { x: '1' } });
    source.delete('a');
    expect(store.match(undefined, 'GET', '/a/1')).toBeUndefined();
  });
});

describe('a bad route', () => {
  it('is rejected with its reasons, logged once, and never disturbs the other routes', async () => {
    const { logger, lines } = recordingLogger();
    const source = new MemoryRouteSource([http('good', '/good')]);
    const { store, events } = await started(source, logger);

    source.put({ id: 'bad', match: { path: 'no-slash' }, target: { type: 'http', service: 's' } });
    expect(store.table.routes.map((r) => r.id)).toEqual(['good']);
    expect(store.rejected()).toEqual([
      {
        id: 'bad',
        origin: 'memory:bad',
        violations: [{ pointer: '/match/path', message: expect.any(String) }],
        servingLastGood: false,
        since: expect.any(String),
      },
    ]);
    const rejectedEvents = events.filter((e) => e.type === 'rejected');
    expect(rejectedEvents).toHaveLength(1);

    // Other routes keep updating while the bad one stays bad; it is not logged again.
    source.put(http('other', '/other'));
    source.put(http('good', '/good', 'svc9'));
    expect(store.table.routes.map((r) => r.id)).toEqual(['good', 'other']);
    expect(serviceOf(store, 'good')).toBe('svc9');
    expect(events.filter((e) => e.type === 'rejected')).toHaveLength(1);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(lines.find((l) => l.level === 'warn')?.obj).toMatchObject({ route: 'bad', servingLastGood: false });

    // Fixed: served, no longer listed, and announced as cleared.
    source.put(http('bad', '/fixed'));
    expect(store.table.get('bad')?.pattern.source).toBe('/fixed');
    expect(store.rejected()).toEqual([]);
    expect(events.at(-2)).toMatchObject({ type: 'cleared', rejection: { id: 'bad' } });
    expect(events.at(-1)).toMatchObject({ type: 'updated', added: ['bad'] });
  });

  it('leaves the last good version of its id serving until it is fixed or deleted', async () => {
    const source = new MemoryRouteSource([http('orders', '/orders', 'orders-v1')]);
    const { store, events } = await started(source);
    const v1 = store.table.get('orders');

    source.put({
      ...http('orders', '/orders', 'orders-v2'),
      target: { type: 'http', service: 'orders-v2', balancer: 'consistent-hash' },
    });
    expect(store.table.get('orders')).toBe(v1);
    expect(store.rejected()).toEqual([
      expect.objectContaining({
        id: 'orders',
        servingLastGood: true,
        violations: [{ pointer: '/target/hashHeader', message: expect.any(String) }],
      }),
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'rejected', rejection: { servingLastGood: true } });

    // A second bad version: still v1, reported again because the content changed.
    source.put({ ...http('orders', 'bad') });
    expect(store.table.get('orders')).toBe(v1);
    expect(events.filter((e) => e.type === 'rejected')).toHaveLength(2);

    source.delete('orders');
    expect(store.table.get('orders')).toBeUndefined();
    expect(store.rejected()).toEqual([]);
    expect(events.filter((e) => e.type === 'cleared')).toHaveLength(1);
  });

  it('is rejected when its body id differs from its key, or it cannot be decoded', async () => {
    const source = new MemoryRouteSource([http('a', '/a')]);
    const { store } = await started(source);
    source.put(http('b', '/b'), 'not-b');
    source.putUndecodable('c', 'value is not valid JSON');
    expect(store.table.routes.map((r) => r.id)).toEqual(['a']);
    expect(store.rejected().map((r) => [r.id, r.violations[0]])).toEqual([
      ['not-b', { pointer: '/id', message: expect.stringMatching(/"not-b"/) }],
      ['c', { pointer: '', message: 'value is not valid JSON' }],
    ]);
  });

  it('a route that was never good is not served', async () => {
    const source = new MemoryRouteSource([{ id: 'x', match: { path: '/x' } }]);
    const { store } = await started(source);
    expect(store.table.size).toBe(0);
    expect(store.rejected()).toHaveLength(1);
    expect(store.rejected()[0]?.servingLastGood).toBe(false);
  });

  it('a listener that throws is logged and does not stop the store', async () => {
    const { logger, lines } = recordingLogger();
    const source = new MemoryRouteSource([http('a', '/a')]);
    const store = new RouteStore({ source, logger });
    stores.push(store);
    store.subscribe(() => {
      throw new Error('listener bug');
    });
    await store.start();
    source.put(http('b', '/b'));
    expect(store.table.size).toBe(2);
    expect(lines.filter((l) => l.level === 'error').length).toBeGreaterThan(0);
  });
});

describe('source status and lifecycle', () => {
  it('reports not synced while the source is cut off, keeps serving the last table, and catches up after', async () => {
    const source = new MemoryRouteSource([http('a', '/a')]);
    const { store } = await started(source);
    source.setConnected(false);
    expect(store.synced).toBe(false);
    expect(store.connected).toBe(false);
    source.put(http('b', '/b')); // not delivered while cut off
    expect(store.table.routes.map((r) => r.id)).toEqual(['a']);
    source.setConnected(true);
    expect(store.synced).toBe(true);
    expect(store.table.routes.map((r) => r.id)).toEqual(['a', 'b']);
  });

  it('start and close are idempotent; nothing changes after close, and the last table stays readable', async () => {
    const source = new MemoryRouteSource([http('a', '/a')]);
    const store = new RouteStore({ source });
    await Promise.all([store.start(), store.start()]);
    expect(store.version).toBe(1);
    await store.close();
    await store.close();
    expect(store.synced).toBe(false);
    source.put(http('b', '/b'));
    expect(store.version).toBe(1);
    expect(store.table.routes.map((r) => r.id)).toEqual(['a']);
    await store.start(); // after close: a no-op
    expect(store.version).toBe(1);
  });

  it('validates its options, naming the bad one', () => {
    expect(() => new RouteStore({} as never)).toThrow(/RouteStore option "source"/);
    expect(() => new RouteStore({ source: new MemoryRouteSource(), logger: {} as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringMatching(/"logger"/) }),
    );
  });
});
