/**
 * The Registry contract: one suite that every Registry implementation must pass.
 *
 * Run it from a `*.test.ts` file with a factory for your registry:
 *
 *   runRegistryContract('memory', async (namespace) => {
 *     const backend = new MemoryRegistryBackend();
 *     return { registry: ..., putRaw: ..., cleanup: ... };
 *   });
 *
 * Each test calls the factory once with a fresh namespace. `registry()` returns a NEW
 * started registry on every call, all sharing the namespace (and, in memory, the
 * backend), the way separate processes share an etcd: one registers, another reads.
 *
 * TTL tests use 2 s (etcd's minimum lease); timing is only asserted with generous bounds.
 */
import {
  isSwitchyardError,
  type Registry,
  type RegistryEvent,
  type RegistryWatch,
  type ServiceInstance,
} from '@switchyard/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uniqueNamespace } from '../harness/servers.js';

export interface RegistryHarness {
  /** A new, started registry in this harness's namespace. Every call: another client. */
  registry(options?: { ttlSeconds?: number }): Promise<Registry>;
  /** Write a raw value at `/<ns>/services/<service>/<id>`, as a foreign (buggy) writer would. */
  putRaw(service: string, id: string, value: string): Promise<void>;
  /** Close every registry created and remove what the namespace left behind. */
  cleanup(): Promise<void>;
}

export type RegistryFactory = (namespace: string) => Promise<RegistryHarness>;

/** Records every event of a watch and lets a test wait for one. */
export class WatchRecorder {
  readonly events: RegistryEvent[] = [];
  readonly handle: RegistryWatch;
  private waiters: { match: (e: RegistryEvent) => boolean; resolve: (e: RegistryEvent) => void }[] = [];

  constructor(registry: Registry) {
    this.handle = registry.watch((e) => {
      this.events.push(e);
      for (const w of [...this.waiters]) {
        if (w.match(e)) {
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(e);
        }
      }
    });
  }

  /** The first event (already seen or future) that matches. */
  next(match: (e: RegistryEvent) => boolean, timeoutMs = 5_000, since = 0): Promise<RegistryEvent> {
    const seen = this.events.slice(since).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching watch event within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }
}

export const isPut = (id: string) => (e: RegistryEvent) => e.type === 'put' && e.instance.id === id;
export const isDelete = (id: string) => (e: RegistryEvent) => e.type === 'delete' && e.id === id;

/** Poll until `check` passes (it throws or returns false otherwise). */
export async function eventually(check: () => unknown | Promise<unknown>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await check()) !== false) return;
    } catch (err) {
      if (Date.now() > until) throw err;
    }
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ids = (list: readonly ServiceInstance[]) => list.map((i) => i.id);

export function runRegistryContract(label: string, factory: RegistryFactory): void {
  describe(`Registry contract: ${label}`, () => {
    let h: RegistryHarness;
    beforeEach(async () => {
      h = await factory(uniqueNamespace(`registry-${label}`));
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('registers an instance that another client lists, with defaults filled in', async () => {
      const a = await h.registry();
      const b = await h.registry();
      const reg = await a.register({
        service: 'orders',
        version: '1.2.0',
        address: { http: 'http://127.0.0.1:8080' },
        methods: {
          create: { request: 'orders.create.request', response: 'orders.create.response', idempotent: false },
        },
        events: { emits: ['orders.created'] },
        metadata: { zone: 'a' },
      });
      expect(reg.instance.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number.isNaN(Date.parse(reg.instance.startedAt))).toBe(false);
      expect(reg.instance.events).toEqual({ emits: ['orders.created'], subscribes: [] });
      const listed = await b.listInstances('orders');
      expect(listed).toEqual([reg.instance]);
      expect(listed[0]!.address).toEqual({ http: 'http://127.0.0.1:8080' });
      expect(listed[0]!.methods.create).toEqual({
        request: 'orders.create.request',
        response: 'orders.create.response',
        idempotent: false,
      });
      expect(await b.listServices()).toEqual(['orders']);
    });

    it('lists services and instances sorted, and nothing for an unknown service', async () => {
      const a = await h.registry();
      await a.register({ service: 'billing', version: '1', id: 'b-2' });
      await a.register({ service: 'billing', version: '1', id: 'b-1' });
      await a.register({ service: 'audit', version: '1', id: 'x' });
      expect(await a.listServices()).toEqual(['audit', 'billing']);
      expect(ids(await a.listInstances('billing'))).toEqual(['b-1', 'b-2']);
      expect(await a.listInstances('nobody')).toEqual([]);
    });

    it('rejects an invalid record with INVALID_ARGUMENT naming each violation', async () => {
      const a = await h.registry();
      const err = await a
        .register({ service: 'bad/name', version: '', address: { http: 'ftp://x' } })
        .catch((e: unknown) => e);
      expect(isSwitchyardError(err, 'INVALID_ARGUMENT')).toBe(true);
      const pointers = ((err as { details: { violations: { pointer: string }[] } }).details.violations ?? []).map(
        (v) => v.pointer,
      );
      expect(pointers).toEqual(expect.arrayContaining(['/service', '/version', '/address/http']));
      await expect(a.listInstances('no/slashes')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(await a.listServices()).toEqual([]);
    });

    it('watch starts with a sync of the current table, then reports puts and deletes', async () => {
      const a = await h.registry();
      const b = await h.registry();
      const first = await a.register({ service: 'svc', version: '1', id: 'one' });
      const rec = new WatchRecorder(b);
      const sync = await rec.next((e) => e.type === 'sync');
      expect(sync).toEqual({ type: 'sync', instances: [first.instance] });
      expect(rec.handle.synced).toBe(true);
      const second = await a.register({ service: 'svc', version: '1', id: 'two' });
      expect(await rec.next(isPut('two'))).toEqual({ type: 'put', instance: second.instance });
      await second.deregister();
      expect(await rec.next(isDelete('two'))).toEqual({ type: 'delete', service: 'svc', id: 'two' });
      expect(rec.events.map((e) => e.type)).toEqual(['sync', 'put', 'delete']);
    });

    it('deregister deletes at once, long before the TTL', async () => {
      const a = await h.registry({ ttlSeconds: 10 });
      const b = await h.registry();
      const reg = await a.register({ service: 'svc', version: '1', id: 'gone' });
      const rec = new WatchRecorder(b);
      await rec.next((e) => e.type === 'sync');
      const t0 = Date.now();
      await reg.deregister();
      expect(await b.listInstances('svc')).toEqual([]);
      await rec.next(isDelete('gone'), 2_000);
      expect(Date.now() - t0).toBeLessThan(2_000);
      await reg.deregister(); // idempotent
    });

    it('keeps a live registration beyond its TTL', async () => {
      const a = await h.registry({ ttlSeconds: 2 });
      const b = await h.registry();
      await a.register({ service: 'svc', version: '1', id: 'alive' });
      const rec = new WatchRecorder(b);
      await rec.next((e) => e.type === 'sync');
      await sleep(4_500);
      expect(ids(await b.listInstances('svc'))).toEqual(['alive']);
      expect(rec.events.filter((e) => e.type === 'delete')).toEqual([]);
    });

    it('expires a registration that stops being kept alive (crash) after its TTL', async () => {
      const a = await h.registry({ ttlSeconds: 2 });
      const b = await h.registry();
      const reg = await a.register({ service: 'svc', version: '1', id: 'crashy' });
      const rec = new WatchRecorder(b);
      await rec.next((e) => e.type === 'sync');
      const t0 = Date.now();
      reg.simulateCrash();
      // Not deleted: it must be the TTL that removes it.
      expect(ids(await b.listInstances('svc'))).toEqual(['crashy']);
      await rec.next(isDelete('crashy'), 6_000);
      const delay = Date.now() - t0;
      console.log(`[registry ${label}] crashed registration (TTL 2 s) expired after ${delay} ms`);
      expect(delay).toBeLessThan(3_500);
      expect(await b.listInstances('svc')).toEqual([]);
    });

    it('the view follows registrations and deregistrations, synchronously readable', async () => {
      const a = await h.registry();
      const b = await h.registry();
      await a.register({ service: 'early', version: '1', id: 'e1' });
      const view = b.view();
      expect(b.view()).toBe(view);
      await view.ready;
      expect(view.synced).toBe(true);
      expect(view.lastSyncedAt).toBeInstanceOf(Date);
      expect(ids(view.instances('early'))).toEqual(['e1']);
      const changed: string[] = [];
      const off = view.onChange((s) => changed.push(s));
      const early = view.instances('early');
      const reg = await a.register({ service: 'late', version: '1', id: 'l1', metadata: { k: 'v' } });
      await eventually(() => expect(ids(view.instances('late'))).toEqual(['l1']));
      expect(view.instance('late', 'l1')).toEqual(reg.instance);
      expect(view.services()).toEqual(['early', 'late']);
      expect(changed).toContain('late');
      expect(view.instances('early')).toBe(early); // unchanged service: same array
      expect(Object.isFrozen(view.instances('late'))).toBe(true);
      await reg.deregister();
      await eventually(() => expect(view.instances('late')).toEqual([]));
      expect(view.services()).toEqual(['early']);
      expect(view.instances('nobody')).toEqual([]);
      off();
    });

    it('registering the same id again replaces the record', async () => {
      const a = await h.registry();
      const b = await h.registry();
      const v1 = await a.register({ service: 'svc', version: '1', id: 'same' });
      const v2 = await a.register({ service: 'svc', version: '2', id: 'same' });
      const listed = await b.listInstances('svc');
      expect(listed.map((i) => [i.id, i.version])).toEqual([['same', '2']]);
      // The replaced handle no longer owns the key.
      await v1.deregister();
      await sleep(100);
      expect((await b.listInstances('svc')).map((i) => i.version)).toEqual(['2']);
      await v2.deregister();
      expect(await b.listInstances('svc')).toEqual([]);
    });

    it('ignores invalid records written by others, and the watch goes on', async () => {
      const a = await h.registry();
      const b = await h.registry();
      const rec = new WatchRecorder(b);
      const view = b.view();
      await view.ready;
      await h.putRaw('svc', 'garbage', 'not json {');
      await h.putRaw(
        'svc',
        'wrong-key',
        JSON.stringify({ id: 'other', service: 'svc', version: '1', startedAt: new Date().toISOString() }),
      );
      await h.putRaw(
        'svc',
        'no-version',
        JSON.stringify({ id: 'no-version', service: 'svc', startedAt: new Date().toISOString() }),
      );
      const good = await a.register({ service: 'svc', version: '1', id: 'good' });
      await rec.next(isPut('good'));
      await eventually(() => expect(ids(view.instances('svc'))).toEqual(['good']));
      expect(await b.listInstances('svc')).toEqual([good.instance]);
      expect(await b.listServices()).toEqual(['svc']);
      expect(rec.events.some((e) => e.type === 'put' && e.instance.id !== 'good')).toBe(false);
      // A valid record that turns invalid drops out of the table.
      await h.putRaw('svc', 'good', '{"broken":');
      await rec.next(isDelete('good'));
      await eventually(() => expect(view.instances('svc')).toEqual([]));
    });

    it('a listener that throws is not allowed to break the watch', async () => {
      const a = await h.registry();
      const b = await h.registry();
      const seen: string[] = [];
      const w = b.watch((e) => {
        seen.push(e.type === 'put' ? `put:${e.instance.id}` : e.type);
        throw new Error('listener bug');
      });
      await a.register({ service: 'svc', version: '1', id: 'x1' });
      await a.register({ service: 'svc', version: '1', id: 'x2' });
      await eventually(() => expect(seen).toContain('put:x2'));
      expect(seen[0]).toBe('sync');
      await w.close();
    });

    it('a closed watch delivers nothing more', async () => {
      const a = await h.registry();
      const b = await h.registry();
      const rec = new WatchRecorder(b);
      await rec.next((e) => e.type === 'sync');
      await rec.handle.close();
      await rec.handle.close();
      await a.register({ service: 'svc', version: '1', id: 'after' });
      await sleep(300);
      expect(rec.events.map((e) => e.type)).toEqual(['sync']);
    });

    it('close() deletes its instances at once, is idempotent, and refuses further use', async () => {
      const a = await h.registry({ ttlSeconds: 10 });
      const b = await h.registry();
      await a.register({ service: 'svc', version: '1', id: 'c1' });
      await a.register({ service: 'other', version: '1', id: 'c2' });
      const view = a.view();
      await view.ready;
      await Promise.all([a.close(), a.close()]);
      await a.close();
      expect(await b.listServices()).toEqual([]);
      await expect(a.register({ service: 'svc', version: '1' })).rejects.toMatchObject({ code: 'CLOSED' });
      await expect(a.listServices()).rejects.toMatchObject({ code: 'CLOSED' });
      expect(() => a.watch(() => undefined)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
      expect(() => a.view()).toThrow(expect.objectContaining({ code: 'CLOSED' }));
      await a.start().then(
        () => expect.unreachable('start after close must fail'),
        (e: unknown) => expect(isSwitchyardError(e, 'CLOSED')).toBe(true),
      );
    });

    it('a view closed before its first sync rejects `ready` with CLOSED; close is idempotent', async () => {
      const a = await h.registry();
      const view = a.view();
      await view.close();
      await view.close();
      await view.ready.then(
        () => undefined, // synced before the close: fine
        (e: unknown) => expect(isSwitchyardError(e, 'CLOSED')).toBe(true),
      );
      await expect(view.start()).rejects.toMatchObject({ code: 'CLOSED' });
    });
  });
}
