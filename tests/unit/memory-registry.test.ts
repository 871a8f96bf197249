import {
  checkServiceInstance,
  instanceKey,
  MemoryRegistry,
  MemoryRegistryBackend,
  parseServiceInstance,
  type Registry,
  RegistryView,
} from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';
import { eventually, runRegistryContract, sleep } from '../contract/registry.contract.js';

runRegistryContract('memory', async (namespace) => {
  const backend = new MemoryRegistryBackend();
  const made: Registry[] = [];
  return {
    async registry(options) {
      const r = new MemoryRegistry({ backend, namespace, ...options });
      await r.start();
      made.push(r);
      return r;
    },
    async putRaw(service, id, value) {
      backend.put(instanceKey(namespace, service, id), value);
    },
    async cleanup() {
      await Promise.all(made.map((r) => r.close()));
    },
  };
});

describe('MemoryRegistry options', () => {
  it('rejects bad options with INVALID_OPTIONS naming the option', () => {
    const cases: [object, string][] = [
      [{ ttlSeconds: 0 }, 'ttlSeconds'],
      [{ ttlSeconds: Number.NaN }, 'ttlSeconds'],
      [{ namespace: 'a/b' }, 'namespace'],
      [{ backend: {} }, 'backend'],
      [{ logger: { warn() {} } }, 'logger'],
    ];
    for (const [opts, option] of cases) {
      expect(() => new MemoryRegistry(opts)).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS', details: { option } }),
      );
    }
    expect(new MemoryRegistry().ttlSeconds).toBe(10);
    expect(new MemoryRegistry().namespace).toBe('switchyard');
  });
});

describe('RegistryView when the watch is cut off', () => {
  it('keeps serving the last table, reports stale, then resyncs with what changed meanwhile', async () => {
    const backend = new MemoryRegistryBackend();
    const writer = new MemoryRegistry({ backend });
    const reader = new MemoryRegistry({ backend });
    const stays = await writer.register({ service: 'svc', version: '1', id: 'stays' });
    const leaves = await writer.register({ service: 'svc', version: '1', id: 'leaves' });
    const view = new RegistryView(reader);
    await view.start();
    await view.ready;
    const flips: boolean[] = [];
    view.onSyncedChange((s) => flips.push(s));
    const changes: string[] = [];
    view.onChange((s) => changes.push(s));

    const restore = backend.simulateWatchOutage();
    await eventually(() => view.synced === false);
    expect(view.staleSince).toBeInstanceOf(Date);
    await leaves.deregister();
    await writer.register({ service: 'newcomer', version: '1', id: 'n1' });
    await sleep(50);
    // Stale but still serving: the gateway keeps routing to the last known instances.
    expect(view.instances('svc').map((i) => i.id)).toEqual(['leaves', 'stays']);
    expect(view.services()).toEqual(['svc']);

    restore();
    await eventually(() => view.synced);
    expect(view.staleSince).toBeUndefined();
    expect(view.instances('svc').map((i) => i.id)).toEqual(['stays']);
    expect(view.instances('newcomer').map((i) => i.id)).toEqual(['n1']);
    expect(flips).toEqual([false, true]);
    expect(changes.sort()).toEqual(['newcomer', 'svc']);
    expect(view.instance('svc', 'stays')).toEqual(stays.instance);
    await view.close();
    await Promise.all([writer.close(), reader.close()]);
  });

  it('a lease whose keepalive lapsed (e.g. a blocked event loop) is registered again', async () => {
    const backend = new MemoryRegistryBackend();
    const reg = new MemoryRegistry({ backend, ttlSeconds: 0.3 });
    await reg.register({ service: 'svc', version: '1', id: 'x' });
    // Expire every lease behind the registry's back, as a TTL that ran out would.
    for (let lease = 1; lease < 10; lease++) backend.revoke(lease);
    expect(await reg.listInstances('svc')).toEqual([]);
    await eventually(async () => expect((await reg.listInstances('svc')).map((i) => i.id)).toEqual(['x']), 2_000);
    await reg.close();
    expect(await new MemoryRegistry({ backend }).listInstances('svc')).toEqual([]);
  });
});

describe('instance record', () => {
  const valid = {
    id: 'i-1',
    service: 'orders',
    version: '1.0.0',
    address: { http: 'https://orders.internal:8443' },
    methods: { get: { request: 'a', response: 'b', idempotent: true, streaming: false } },
    events: { emits: ['orders.created'], subscribes: ['payments.#'] },
    metadata: { zone: 'eu' },
    startedAt: '2024-05-01T10:00:00.000Z',
  };

  it('accepts the documented shape, drops unknown fields and freezes the result', () => {
    const inst = parseServiceInstance({ ...valid, futureField: 1 });
    expect(inst).toEqual(valid);
    expect(Object.isFrozen(inst)).toBe(true);
    expect(Object.isFrozen(inst.methods.get)).toBe(true);
    expect(Object.isFrozen(inst.events.emits)).toBe(true);
  });

  it('treats missing collections as empty', () => {
    const { methods: _m, events: _e, metadata: _md, address: _a, ...bare } = valid;
    expect(parseServiceInstance(bare)).toEqual({
      ...bare,
      methods: {},
      events: { emits: [], subscribes: [] },
      metadata: {},
    });
  });

  it('reports every violation with a JSON pointer', () => {
    const r = checkServiceInstance({
      id: 'has space',
      service: '',
      version: 3,
      address: { http: 'not a url' },
      methods: { m: { request: 1, idempotent: 'yes' }, n: 'x' },
      events: { emits: 'a' },
      metadata: { a: 1 },
      startedAt: 'yesterday',
    });
    expect(r.ok).toBe(false);
    const pointers = r.ok ? [] : r.violations.map((v) => v.pointer);
    expect(pointers.sort()).toEqual(
      [
        '/id',
        '/service',
        '/version',
        '/address/http',
        '/methods/m/request',
        '/methods/m/idempotent',
        '/methods/n',
        '/events/emits',
        '/metadata/a',
        '/startedAt',
      ].sort(),
    );
    expect(checkServiceInstance(null)).toEqual({
      ok: false,
      violations: [{ pointer: '', message: 'must be an object' }],
    });
    expect(() => parseServiceInstance([])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('reads the event schemas and subscription groups, and old records without them', () => {
    const events = {
      emits: ['orders.created'],
      subscribes: ['payments.*'],
      schemas: { 'orders.created': 'orders.created.event' },
      subscriptions: [{ topic: 'payments.*', group: 'billing', schema: 'payments.event', later: true }],
    };
    const inst = parseServiceInstance({ ...valid, events });
    expect(inst.events).toEqual({
      ...events,
      subscriptions: [{ topic: 'payments.*', group: 'billing', schema: 'payments.event' }],
    });
    // A record from before the fields keeps exactly what it had: absent, not empty.
    const old = parseServiceInstance({ ...valid, events: { emits: ['orders.created'], subscribes: [] } });
    expect(old.events).toEqual({ emits: ['orders.created'], subscribes: [] });
    expect('schemas' in old.events).toBe(false);

    const r = checkServiceInstance({
      ...valid,
      events: {
        schemas: { 'orders.created': '' },
        subscriptions: [{ topic: 'a' }, 'x', { topic: 'b', group: 'g', schema: 3 }],
      },
    });
    const pointers = r.ok ? [] : r.violations.map((v) => v.pointer);
    expect(pointers.sort()).toEqual(
      [
        '/events/schemas/orders.created',
        '/events/subscriptions/0/group',
        '/events/subscriptions/1',
        '/events/subscriptions/2/schema',
      ].sort(),
    );
    expect(checkServiceInstance({ ...valid, events: { schemas: [], subscriptions: {} } })).toMatchObject({
      ok: false,
      violations: [{ pointer: '/events/schemas' }, { pointer: '/events/subscriptions' }],
    });
  });

  it('keeps a "__proto__" method name as a plain key', () => {
    const inst = parseServiceInstance(JSON.parse(JSON.stringify(valid).replace('"get"', '"__proto__"')));
    expect(Object.keys(inst.methods)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(inst.methods)).toBe(Object.prototype);
  });
});
