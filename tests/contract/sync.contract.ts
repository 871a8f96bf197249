/** The Sync contract: MemorySync and EtcdSync (real etcd) lock and elect alike. */
import type { Sync } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export function runSyncContract(name: string, make: () => Promise<{ a: Sync; b: Sync; cleanup(): Promise<void> }>) {
  describe(`Sync contract: ${name}`, () => {
    let a: Sync;
    let b: Sync;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ a, b, cleanup } = await make());
    });
    afterAll(() => cleanup());

    it('one holder at a time; a try (waitMs 0) is DEADLINE_EXCEEDED; each new holder has a greater fence', async () => {
      const first = await a.lock('jobs', { ttlSec: 5 });
      await expect(b.lock('jobs', { waitMs: 0 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      await first.unlock();
      await first.unlock(); // idempotent
      const second = await b.lock('jobs', { waitMs: 0 });
      expect(second.fence).toBeGreaterThan(first.fence);
      expect(second.lost).toBe(false);
      await second.unlock();
    });

    it('a waiter gets the lock when it is released, not before', async () => {
      const held = await a.lock('queue', { ttlSec: 5 });
      let got = false;
      const waiting = b.lock('queue', { waitMs: 5000 }).then((l) => {
        got = true;
        return l;
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toBe(false);
      const t0 = Date.now();
      await held.unlock();
      const next = await waiting;
      console.log(`sync ${name}: waiter acquired ${Date.now() - t0} ms after the release`);
      expect(next.fence).toBeGreaterThan(held.fence);
      await next.unlock();
    });

    it('withLock releases when the work throws', async () => {
      await expect(
        a.withLock('w', () => {
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      const l = await b.lock('w', { waitMs: 0 });
      await l.unlock();
      expect(await a.withLock('w', () => 42)).toBe(42);
    });

    it('elections: one leader; the next is elected when it resigns; observers see each change', async () => {
      const seen: Array<string | undefined> = [];
      const stop = await b.observe('scheduler', (v) => seen.push(v));
      const one = await a.campaign('scheduler', { value: 'one', ttlSec: 5 });
      expect(await b.leader('scheduler')).toBe('one');
      let twoElected = false;
      const two = b.campaign('scheduler', { value: 'two', ttlSec: 5 }).then((l) => {
        twoElected = true;
        return l;
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(twoElected).toBe(false);
      await one.resign();
      const leader = await two;
      expect(leader.value).toBe('two');
      expect(leader.fence).toBeGreaterThan(one.fence);
      expect(await a.leader('scheduler')).toBe('two');
      await leader.resign();
      await new Promise((r) => setTimeout(r, 100));
      await stop();
      // In order, and never a candidate as leader before it leads.
      expect(seen.filter((v) => v !== undefined)).toEqual(['one', 'two']);
      // An election nobody holds is won at once.
      await expect(b.campaign('scheduler-2', { waitMs: 5_000 }).then((l) => l.resign())).resolves.toBeUndefined();
    });

    it('bad names and options are INVALID_ARGUMENT', async () => {
      await expect(a.lock('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /non-empty/ });
      await expect(a.lock('a/b')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(a.lock('x', { waitMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(a.campaign('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });
  });
}
