/** The in-process cache: LRU bound, TTL, coalesced loads (no stampede), failures not cached, bad input. */
import { MemoryCache } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('MemoryCache', () => {
  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const c = new MemoryCache({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) await c.set(k, k);
    expect(await c.get('a')).toBe('a'); // a is now the most recently used
    await c.set('d', 'd');
    expect(await c.get('b')).toBeUndefined();
    expect([await c.get('a'), await c.get('c'), await c.get('d')]).toEqual(['a', 'c', 'd']);
    expect(c.size).toBe(3);
  });

  it('expires entries by TTL (the default and per set); null is a value, undefined a miss', async () => {
    const c = new MemoryCache({ ttlMs: 60 });
    await c.set('short', 1);
    await c.set('long', 2, { ttlMs: 10_000 });
    await c.set('nothing', null);
    expect(c.peek('short')).toBe(1);
    expect(await c.get('nothing')).toBeNull();
    await sleep(90);
    expect(await c.get('short')).toBeUndefined();
    expect(await c.get('long')).toBe(2);
  });

  it('500 concurrent misses of one key run the loader once; all get its value', async () => {
    const c = new MemoryCache();
    let runs = 0;
    const loader = async () => {
      runs++;
      await sleep(20);
      return { loaded: runs };
    };
    const values = await Promise.all(Array.from({ length: 500 }, () => c.getOrLoad('hot', loader)));
    expect(runs).toBe(1);
    expect(values.every((v) => v.loaded === 1)).toBe(true);
    // Now cached: no run at all.
    await c.getOrLoad('hot', loader);
    expect(runs).toBe(1);
  });

  it('a failing loader fails every waiter, caches nothing, and the next miss loads again', async () => {
    const c = new MemoryCache();
    let runs = 0;
    const failing = async () => {
      runs++;
      await sleep(5);
      throw new Error('backend down');
    };
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => c.getOrLoad('k', failing)));
    expect(runs).toBe(1);
    expect(results.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'backend down')).toBe(true);
    expect(c.has('k')).toBe(false);
    expect(await c.getOrLoad('k', () => 'ok')).toBe('ok');
    expect(await c.getOrLoad('u', () => undefined)).toBeUndefined();
    expect(c.has('u')).toBe(false);
  });

  it('refuses a bad key or TTL with INVALID_ARGUMENT, and bad options with INVALID_OPTIONS', async () => {
    const c = new MemoryCache();
    await expect(c.get('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.set('k'.repeat(600), 1)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: /longer than 512/,
    });
    await expect(c.set('k', 1, { ttlMs: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /ttlMs/ });
    await expect(c.getOrLoad('k', () => 1, { ttlMs: -5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.getOrLoad('', () => 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => new MemoryCache({ maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
