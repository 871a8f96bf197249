/**
 * The shared caches on the real Redis: RedisCache values and TTLs; 500 concurrent misses
 * run one loader (RedisCache and TwoLevelCache); two TwoLevelCache instances (two
 * services' views) see each other's sets and deletes through the invalidation channel;
 * with Redis away, getOrLoad still serves from the loader and get says UNAVAILABLE.
 */
import { randomBytes } from 'node:crypto';
import { type Cache, RedisCache, TwoLevelCache } from '@switchyard/sdk';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../harness/ports.js';

const prefix = `sytest:cache:${randomBytes(4).toString('hex')}:`;
const made: Cache[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function redisCache(): Promise<RedisCache> {
  const c = new RedisCache({ url: inject('redisUrl'), keyPrefix: prefix });
  await c.start();
  made.push(c);
  return c;
}

async function twoLevel(): Promise<TwoLevelCache> {
  const c = new TwoLevelCache({ shared: new RedisCache({ url: inject('redisUrl'), keyPrefix: prefix }) });
  await c.start();
  made.push(c);
  return c;
}

/** Poll until `check` holds (the invalidation is one pub/sub hop away). */
async function eventually(check: () => Promise<boolean>, ms = 2000): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await sleep(5);
  }
  return Date.now() - t0;
}

afterAll(async () => {
  const c = await redisCache();
  const keys = await c.client.keys(`${prefix}*`);
  if (keys.length > 0) await c.client.del(...keys);
  for (const m of made) await m.close();
});

describe('RedisCache', () => {
  it('sets and gets JSON values, expires by TTL, deletes', async () => {
    const c = await redisCache();
    await c.set('a', { n: 1, s: 'é' });
    expect(await c.get('a')).toEqual({ n: 1, s: 'é' });
    await c.set('short', 1, { ttlMs: 50 });
    await sleep(80);
    expect(await c.get('short')).toBeUndefined();
    await c.delete('a');
    expect(await c.get('a')).toBeUndefined();
    const other = await redisCache();
    await c.set('shared', 'yes');
    expect(await other.get('shared')).toBe('yes');
  });

  it.each([
    ['RedisCache', redisCache],
    ['TwoLevelCache', twoLevel],
  ])('%s: 500 concurrent misses run the loader once', async (_name, make) => {
    const c = await make();
    let runs = 0;
    const key = `stampede-${randomBytes(3).toString('hex')}`;
    const values = await Promise.all(
      Array.from({ length: 500 }, () =>
        c.getOrLoad(key, async () => {
          runs++;
          await sleep(20);
          return 'loaded';
        }),
      ),
    );
    expect(runs).toBe(1);
    expect(new Set(values)).toEqual(new Set(['loaded']));
  });

  it('with Redis away: get is UNAVAILABLE, getOrLoad serves from the loader', async () => {
    const c = new RedisCache({
      url: `redis://127.0.0.1:${await freePort()}`,
      keyPrefix: prefix,
      commandTimeoutMs: 500,
    });
    await expect(c.start()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(c.get('k')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await c.getOrLoad('k', () => 'from the loader')).toBe('from the loader');
    await c.close();
  });
});

describe('TwoLevelCache', () => {
  it("hits locally; another instance's set and delete reach this one's local level", async () => {
    const a = await twoLevel();
    const b = await twoLevel();
    await a.set('price', 100);
    expect(await b.get('price')).toBe(100); // from Redis, now in b's local level
    expect(b.local.peek('price')).toBe(100);

    await a.set('price', 120);
    const ms = await eventually(async () => b.local.peek('price') === undefined);
    expect(await b.get('price')).toBe(120);
    console.log(`two-level invalidation reached the other instance in ${ms} ms`);

    await b.delete('price');
    await eventually(async () => a.local.peek('price') === undefined);
    expect(await a.get('price')).toBeUndefined();
  });
});
