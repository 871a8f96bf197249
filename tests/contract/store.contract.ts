/**
 * The Store contract: memory, PostgreSQL, Redis and etcd behave alike — values and
 * versions, reads by key, prefix and suffix in key order with limit and offset, tables
 * and databases kept apart, TTLs, compare-and-set, fenced writes, and bad input refused
 * with INVALID_ARGUMENT before anything is written.
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A database name of this file's own: runs and backends never see each other's records. */
export function uniqueDatabase(label: string): string {
  return `t${label}${randomBytes(4).toString('hex')}`;
}

export function runStoreContract(name: string, make: () => Promise<{ store: Store; cleanup(): Promise<void> }>) {
  describe(`Store contract: ${name}`, () => {
    let h: Awaited<ReturnType<typeof make>>;
    let store: Store;
    beforeAll(async () => {
      h = await make();
      store = h.store;
      await store.start();
    });
    afterAll(() => h.cleanup());

    it('writes and reads back values of every JSON kind with metadata; each write adds one to the version', async () => {
      const value = { n: 1.5, s: 'zß→😀', a: [1, null, true], o: { deep: { x: 'y' } } };
      const first = await store.write('order:1', value, { metadata: { owner: 'orders', rev: 3, hot: true } });
      expect(first).toMatchObject({ key: 'order:1', value, version: 1, expiresAt: undefined });
      const [read] = await store.read('order:1');
      expect(read).toEqual({
        key: 'order:1',
        value,
        metadata: { owner: 'orders', rev: 3, hot: true },
        version: 1,
        expiresAt: undefined,
      });
      expect((await store.write('order:1', 'two')).version).toBe(2);
      expect((await store.read('order:1'))[0]).toMatchObject({ value: 'two', version: 2, metadata: {} });
      for (const v of [null, 0, false, '', [], {}]) {
        await store.write('kinds', v);
        expect((await store.read('kinds'))[0]!.value).toEqual(v);
      }
      expect(await store.read('order:none')).toEqual([]);
    });

    it('reads by prefix and suffix in key order, with limit and offset; lists keys alike', async () => {
      const t = { table: 'ranges' };
      for (const k of ['b/2', 'a/1', 'b/1', 'b/10', 'c.json', 'b%_x', 'bé']) await store.write(k, k, t);
      const keys = async (key: string, o: object) => (await store.read(key, { ...t, ...o })).map((r) => r.key);
      expect(await keys('b', { prefix: true })).toEqual(['b%_x', 'b/1', 'b/10', 'b/2', 'bé']);
      expect(await keys('b/', { prefix: true, limit: 2 })).toEqual(['b/1', 'b/10']);
      expect(await keys('b/', { prefix: true, offset: 1, limit: 5 })).toEqual(['b/10', 'b/2']);
      // LIKE and glob characters in keys are plain characters.
      expect(await keys('b%', { prefix: true })).toEqual(['b%_x']);
      expect(await keys('1', { suffix: true })).toEqual(['a/1', 'b/1']);
      expect(await keys('.json', { suffix: true })).toEqual(['c.json']);
      expect(await store.list(t)).toEqual(['a/1', 'b%_x', 'b/1', 'b/10', 'b/2', 'bé', 'c.json']);
      expect(await store.list({ ...t, prefix: 'b/', suffix: '0' })).toEqual(['b/10']);
      expect(await store.list({ ...t, limit: 2, offset: 2 })).toEqual(['b/1', 'b/10']);
      // Prefix and suffix may overlap, as startsWith and endsWith do.
      await store.write('aa', 1, { table: 'overlap' });
      expect(await store.list({ table: 'overlap', prefix: 'aa', suffix: 'a' })).toEqual(['aa']);
    });

    it('keeps tables and databases apart', async () => {
      await store.write('k', 'in-a', { table: 'iso-a' });
      await store.write('k', 'in-b', { table: 'iso-b' });
      const other = uniqueDatabase('other');
      await store.write('k', 'other-db', { table: 'iso-a', database: other });
      expect((await store.read('k', { table: 'iso-a' }))[0]!.value).toBe('in-a');
      expect((await store.read('k', { table: 'iso-b' }))[0]!.value).toBe('in-b');
      expect((await store.read('k', { table: 'iso-a', database: other }))[0]!.value).toBe('other-db');
      expect(await store.delete('k', { table: 'iso-a', database: other })).toBe(true);
      expect((await store.read('k', { table: 'iso-a' }))[0]!.value).toBe('in-a');
    });

    it('a record with a TTL is read until it expires, then never (read, prefix read, list)', async () => {
      const t = { table: 'ttl' };
      const w = await store.write('short', 's', { ...t, ttlMs: 1200 });
      await store.write('long', 'l', t);
      expect(w.expiresAt!.getTime()).toBeGreaterThan(Date.now());
      const [r] = await store.read('short', t);
      expect(Math.abs(r!.expiresAt!.getTime() - w.expiresAt!.getTime())).toBeLessThan(1000);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await store.read('short', t)).toEqual([]);
      expect(await store.read('s', { ...t, prefix: true })).toEqual([]);
      expect(await store.list(t)).toEqual(['long']);
      // Written again it starts over at version 1, and ifVersion 0 sees it as absent.
      expect((await store.write('short', 'again', { ...t, ifVersion: 0 })).version).toBe(1);
    });

    it('a write replaces the expiry: written again without ttlMs the record no longer expires', async () => {
      const t = { table: 'ttl-replace' };
      await store.write('k', 1, { ...t, ttlMs: 600 });
      const w = await store.write('k', 2, t);
      expect(w.expiresAt).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 900));
      const [r] = await store.read('k', t);
      expect(r).toMatchObject({ value: 2, version: 2 });
      expect(r!.expiresAt).toBeUndefined();
    });

    it('compare-and-set: ifVersion 0 creates once; a stale version is refused and writes nothing', async () => {
      const t = { table: 'cas' };
      expect((await store.write('c', 1, { ...t, ifVersion: 0 })).version).toBe(1);
      await expect(store.write('c', 2, { ...t, ifVersion: 0 })).rejects.toMatchObject({
        code: 'VERSION_CONFLICT',
        details: { key: 'c', expected: 0, actual: 1 },
      });
      expect((await store.write('c', 2, { ...t, ifVersion: 1 })).version).toBe(2);
      await expect(store.write('c', 3, { ...t, ifVersion: 1 })).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
      await expect(store.write('missing', 3, { ...t, ifVersion: 4 })).rejects.toMatchObject({
        code: 'VERSION_CONFLICT',
        details: { actual: 0 },
      });
      expect(await store.read('missing', t)).toEqual([]);
      expect((await store.read('c', t))[0]).toMatchObject({ value: 2, version: 2 });
    });

    it('of 12 concurrent compare-and-set writers from one version exactly one wins', async () => {
      const t = { table: 'race' };
      const { version } = await store.write('counter', 0, t);
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => store.write('counter', i + 1, { ...t, ifVersion: version })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'VERSION_CONFLICT' });
      expect((await store.read('counter', t))[0]!.version).toBe(version + 1);
    });

    it('delete: true once, false after; with ifVersion only at that version', async () => {
      const t = { table: 'del' };
      const { version } = await store.write('d', 'x', t);
      await expect(store.delete('d', { ...t, ifVersion: version + 1 })).rejects.toMatchObject({
        code: 'VERSION_CONFLICT',
      });
      expect(await store.read('d', t)).toHaveLength(1);
      expect(await store.delete('d', { ...t, ifVersion: version })).toBe(true);
      expect(await store.delete('d', t)).toBe(false);
      expect(await store.read('d', t)).toEqual([]);
    });

    it('fenced writes: a token older than one seen is FENCED and writes nothing; the same or a newer one writes', async () => {
      const t = { table: 'fence' };
      await store.write('leader-state', 'a', { ...t, fence: { name: 'jobs', token: 5 } });
      await store.write('leader-state', 'b', { ...t, fence: { name: 'jobs', token: 7n } });
      await expect(
        store.write('leader-state', 'stale', { ...t, fence: { name: 'jobs', token: '6' } }),
      ).rejects.toMatchObject({
        code: 'FENCED',
        details: { fence: 'jobs', token: '6', seen: expect.stringMatching(/^0*7$/) },
      });
      expect((await store.read('leader-state', t))[0]!.value).toBe('b');
      await store.write('leader-state', 'c', { ...t, fence: { name: 'jobs', token: 7 } });
      // Fences of other locks are separate.
      await store.write('other', 'x', { ...t, fence: { name: 'reports', token: 1 } });
      // A token of 20 digits compares as a number, not as text.
      await store.write('leader-state', 'big', { ...t, fence: { name: 'jobs', token: 10n ** 19n } });
      await expect(store.write('leader-state', 'x', { ...t, fence: { name: 'jobs', token: 9 } })).rejects.toMatchObject(
        {
          code: 'FENCED',
        },
      );
      expect((await store.read('leader-state', t))[0]!.value).toBe('big');
    });

    it('a fenced compare-and-set checks both', async () => {
      const t = { table: 'fence-cas' };
      const { version } = await store.write('x', 1, { ...t, fence: { name: 'l', token: 3 } });
      await expect(
        store.write('x', 2, { ...t, ifVersion: version + 5, fence: { name: 'l', token: 4 } }),
      ).rejects.toMatchObject({
        code: 'VERSION_CONFLICT',
      });
      await expect(
        store.write('x', 2, { ...t, ifVersion: version, fence: { name: 'l', token: 2 } }),
      ).rejects.toMatchObject({
        code: 'FENCED',
      });
      expect((await store.write('x', 2, { ...t, ifVersion: version, fence: { name: 'l', token: 4 } })).version).toBe(
        version + 1,
      );
    });

    it('bad input is INVALID_ARGUMENT with a clear message, and nothing is written', async () => {
      const t = { table: 'bad' };
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const cases: Array<[() => Promise<unknown>, RegExp]> = [
        [() => store.write('', 1, t), /non-empty string/],
        [() => store.write('k'.repeat(513), 1, t), /513 bytes; the limit is 512/],
        [() => store.write('a\nb', 1, t), /control character/],
        [() => store.write('big', 10n, t), /cannot be serialised as JSON/],
        [() => store.write('circ', circular, t), /cannot be serialised as JSON/],
        [() => store.write('undef', undefined, t), /cannot be serialised as JSON \(undefined\)/],
        [() => store.write('fn', () => 1, t), /cannot be serialised as JSON \(function\)/],
        [() => store.write('meta', 1, { ...t, metadata: { a: { b: 1 } } as never }), /metadata "a" must be a string/],
        [() => store.write('ttl', 1, { ...t, ttlMs: 0 }), /ttlMs must be a whole number/],
        [() => store.write('v', 1, { ...t, ifVersion: -1 }), /ifVersion must be a whole number >= 0/],
        [
          () => store.write('f', 1, { ...t, fence: { name: 'x', token: 'soon' } }),
          /fence token must be a whole number/,
        ],
        [() => store.write('f', 1, { ...t, fence: { name: '', token: 1 } }), /fence needs a lock name/],
        [() => store.write('k', 1, { table: 'Bad Table' }), /table must match/],
        [() => store.read('k', { ...t, prefix: true, suffix: true }), /prefix or suffix, not both/],
        [() => store.read('k', { ...t, prefix: true, limit: -1 }), /limit must be a whole number/],
      ];
      for (const [call, message] of cases) {
        await expect(call()).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringMatching(message),
        });
      }
      expect(await store.list(t)).toEqual([]);
    });
  });
}
