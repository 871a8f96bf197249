import { once } from 'node:events';
import { UnavailableError } from '@switchyard/broker';
import {
  GatewayMetrics,
  type RateLimitConfig,
  RateLimiter,
  type RateLimiterOptions,
  type RateLimitResult,
  RedisRateLimitStore,
  rateLimitStoreFromEnv,
  type StoreFailureMode,
} from '@switchyard/gateway';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { PrivateRedis } from '../harness/private-redis.js';
import { uniqueNamespace } from '../harness/servers.js';

const redisUrl = inject('redisUrl');
const prefix = uniqueNamespace('ratelimit');
const admin = new Redis(redisUrl);
const CLOSED_PORT_URL = 'redis://127.0.0.1:1';
const client = { ip: '198.51.100.1' };

const toClose: RateLimiter[] = [];
function gateway(
  routes: { id: string; rateLimit: RateLimitConfig }[],
  options: RateLimiterOptions & { url?: string } = {},
): RateLimiter {
  const { url = redisUrl, ...rest } = options;
  const l = new RateLimiter({
    store: new RedisRateLimitStore({ url, keyPrefix: prefix, connectTimeoutMs: 1000 }),
    ...rest,
  });
  l.setRoutes(routes);
  toClose.push(l);
  return l;
}

afterEach(async () => {
  await Promise.all(toClose.splice(0).map((l) => l.close()));
});

afterAll(async () => {
  const keys = await admin.keys(`${prefix}:*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
});

describe('gateways sharing one Redis', () => {
  it('share one limit: two instances allow `points` requests between them', async () => {
    const route = [{ id: 'orders', rateLimit: { points: 5, durationSeconds: 60, key: 'ip' as const } }];
    const a = gateway(route);
    const b = gateway(route);
    await Promise.all([a.start(), b.start()]);
    const results: RateLimitResult[] = [];
    const served = { a: 0, b: 0 };
    for (let i = 0; i < 12; i++) {
      const [name, g] = i % 2 === 0 ? (['a', a] as const) : (['b', b] as const);
      const r = await g.check('orders', client);
      results.push(r);
      if (r.allowed) served[name]++;
    }
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    expect(served.a).toBeGreaterThan(0);
    expect(served.b).toBeGreaterThan(0);
    expect(results.every((r) => r.decidedBy === 'store')).toBe(true);
    // One counter: the remaining count goes down across both gateways.
    expect(results.slice(0, 5).map((r) => r.headers['RateLimit-Remaining'])).toEqual(['4', '3', '2', '1', '0']);
    expect(results[5]!.error?.code).toBe('RATE_LIMITED');
    expect(Number(results[5]!.headers['Retry-After'])).toBeGreaterThan(0);
    // The counter really is in Redis, under our prefix.
    const keys = await admin.keys(`${prefix}:orders:*`);
    expect(keys).toHaveLength(1);
    expect(Number(await admin.get(keys[0]!))).toBe(12);
  });

  it('share a block: a key blocked through one gateway is refused by the other', async () => {
    const route = [
      { id: 'login', rateLimit: { points: 1, durationSeconds: 1, key: 'subject' as const, blockSeconds: 30 } },
    ];
    const a = gateway(route);
    const b = gateway(route);
    await Promise.all([a.start(), b.start()]);
    const alice = { ip: '198.51.100.1', subject: 'alice' };
    expect((await a.check('login', alice)).allowed).toBe(true);
    const refused = await a.check('login', alice);
    expect(refused.allowed).toBe(false);
    expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(29);
    await new Promise((r) => setTimeout(r, 1100));
    const other = await b.check('login', { ...alice, ip: '198.51.100.2' });
    expect(other.decidedBy).toBe('store');
    expect(other.allowed).toBe(false);
    expect(Number(other.headers['Retry-After'])).toBeGreaterThanOrEqual(27);
    expect((await b.check('login', { ip: '198.51.100.2', subject: 'bob' })).allowed).toBe(true);
  });

  it('start fresh counters when a route policy changes', async () => {
    const a = gateway([{ id: 'search', rateLimit: { points: 1, durationSeconds: 60, key: 'ip' } }]);
    await a.start();
    expect((await a.check('search', client)).decidedBy).toBe('store');
    expect((await a.check('search', client)).allowed).toBe(false);
    a.setRoutes([{ id: 'search', rateLimit: { points: 2, durationSeconds: 60, key: 'ip' } }]);
    expect((await a.check('search', client)).headers['RateLimit-Remaining']).toBe('1');
  });

  it('accept a client of yours only with the offline queue off, and leave it open', async () => {
    const queued = new Redis(redisUrl, { lazyConnect: true });
    expect(() => new RedisRateLimitStore({ client: queued })).toThrow(/enableOfflineQueue/);
    queued.disconnect();
    const mine = new Redis(redisUrl, { enableOfflineQueue: false });
    await once(mine, 'ready');
    const l = new RateLimiter({ store: new RedisRateLimitStore({ client: mine, keyPrefix: prefix }) });
    l.setRoutes([{ id: 'byo', rateLimit: { points: 1, durationSeconds: 60, key: 'ip' } }]);
    expect((await l.check('byo', client)).decidedBy).toBe('store');
    await l.close();
    expect(mine.status).toBe('ready');
    await mine.quit();
  });

  it('is what SWITCHYARD_REDIS selects', async () => {
    const fromEnv = rateLimitStoreFromEnv({ SWITCHYARD_REDIS: redisUrl });
    expect(fromEnv.kind).toBe('redis');
    await fromEnv.close();
    expect(rateLimitStoreFromEnv({}).kind).toBe('memory');
  });
});

describe('Redis unreachable (nothing listens on 127.0.0.1:1)', () => {
  async function underOutage(mode: StoreFailureMode, n: number) {
    const metrics = new GatewayMetrics();
    metrics.setRoutes(['orders']);
    const logs: string[] = [];
    const l = gateway([{ id: 'orders', rateLimit: { points: 2, durationSeconds: 60, key: 'ip' } }], {
      url: CLOSED_PORT_URL,
      onStoreFailure: mode,
      metrics,
      logger: { warn: (_obj, msg) => logs.push(msg ?? '') },
    });
    const startedAt = performance.now();
    await l.start();
    const startMs = performance.now() - startedAt;
    const results: RateLimitResult[] = [];
    let slowest = 0;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      results.push(await l.check('orders', client));
      slowest = Math.max(slowest, performance.now() - t);
    }
    const text = await metrics.render();
    const failures = new RegExp(
      `switchyard_gateway_ratelimit_store_failures_total\\{route="orders",mode="${mode}"\\} (\\d+)`,
    ).exec(text)?.[1];
    metrics.close();
    return { results, startMs, slowest, failures: Number(failures), logs };
  }

  it('start() does not fail or hang', async () => {
    const { startMs } = await underOutage('allow', 0);
    console.log(`RateLimiter.start() with Redis down: ${startMs.toFixed(0)} ms`);
    expect(startMs).toBeLessThan(5000);
  });

  it("'insurance' counts in this process: the limit still holds", async () => {
    const { results, slowest, failures } = await underOutage('insurance', 4);
    console.log(`slowest check, Redis down, insurance: ${slowest.toFixed(1)} ms`);
    expect(results.map((r) => [r.allowed, r.decidedBy])).toEqual([
      [true, 'insurance'],
      [true, 'insurance'],
      [false, 'insurance'],
      [false, 'insurance'],
    ]);
    expect(results[2]!.error?.code).toBe('RATE_LIMITED');
    expect(results[0]!.headers['RateLimit-Remaining']).toBe('1');
    expect(slowest).toBeLessThan(1000);
    expect(failures).toBe(4);
  });

  it("'allow' fails open, counted and logged once", async () => {
    const { results, slowest, failures, logs } = await underOutage('allow', 20);
    expect(results.every((r) => r.allowed && r.decidedBy === 'failure-mode')).toBe(true);
    expect(slowest).toBeLessThan(1000);
    expect(failures).toBe(20);
    expect(logs.filter((m) => m.startsWith('rate limit store failed'))).toHaveLength(1);
  });

  it("'deny' fails closed with 503 UNAVAILABLE", async () => {
    const { results, slowest, failures } = await underOutage('deny', 3);
    for (const r of results) {
      expect(r.allowed).toBe(false);
      expect(r.error).toBeInstanceOf(UnavailableError);
    }
    expect(slowest).toBeLessThan(1000);
    expect(failures).toBe(3);
  });
});

describe('a Redis that hangs, dies and comes back (a private redis-server)', () => {
  const redis = new PrivateRedis();
  afterAll(() => redis.kill());

  async function until(l: RateLimiter, decidedBy: string, timeoutMs: number): Promise<number> {
    const t = performance.now();
    while (performance.now() - t < timeoutMs) {
      if ((await l.check('orders', client)).decidedBy === decidedBy) return performance.now() - t;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no check decided by ${decidedBy} within ${timeoutMs} ms`);
  }

  it('bounds every check while Redis is frozen, and goes back to Redis when it returns', async () => {
    await redis.start();
    const l = gateway([{ id: 'orders', rateLimit: { points: 1000, durationSeconds: 60, key: 'ip' } }], {
      url: redis.url,
      onStoreFailure: 'insurance',
      storeTimeoutMs: 200,
    });
    await l.start();
    expect((await l.check('orders', client)).decidedBy).toBe('store');

    // Frozen: the socket is open, nothing answers. The first checks each wait for the
    // timeout; after 5 failures the breaker skips Redis and checks answer at once.
    redis.freeze();
    const t = performance.now();
    const frozen = [];
    for (let i = 0; i < 20; i++) frozen.push(await l.check('orders', client));
    const frozenMs = performance.now() - t;
    redis.thaw();
    console.log(`20 checks against a frozen Redis (timeout 200 ms, breaker after 5): ${frozenMs.toFixed(0)} ms`);
    expect(frozen.every((r) => r.allowed && r.decidedBy === 'insurance')).toBe(true);
    expect(frozenMs).toBeLessThan(5 * 200 + 2000);
    await until(l, 'store', 5000);

    // Dead: connection refused, every check fails at once.
    await redis.kill();
    const down = await until(l, 'insurance', 5000);
    const fast = performance.now();
    await l.check('orders', client);
    const fastMs = performance.now() - fast;
    console.log(`check with Redis dead: ${fastMs.toFixed(2)} ms (detected after ${down.toFixed(0)} ms)`);
    expect(fastMs).toBeLessThan(200);

    // Back on the same port: ioredis reconnects and checks count in Redis again.
    await redis.start();
    const back = await until(l, 'store', 10_000);
    console.log(`back on Redis ${back.toFixed(0)} ms after it restarted`);
  });
});
