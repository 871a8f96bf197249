import { ClosedError, InvalidOptionsError, isSwitchyardError, RateLimitedError } from '@switchyard/broker';
import { httpStatusOf, MemoryRateLimitStore, type RateLimitConfig, RateLimiter } from '@switchyard/gateway';
import { afterEach, describe, expect, it } from 'vitest';

const limiters: RateLimiter[] = [];
function limiter(routes: { id: string; rateLimit?: RateLimitConfig }[]): RateLimiter {
  const l = new RateLimiter();
  l.setRoutes(routes);
  limiters.push(l);
  return l;
}
afterEach(async () => {
  await Promise.all(limiters.splice(0).map((l) => l.close()));
});

const client = { ip: '198.51.100.1' };

describe('memory rate limiting', () => {
  it('allows `points` requests per window, then refuses with RATE_LIMITED', async () => {
    const l = limiter([{ id: 'orders', rateLimit: { points: 3, durationSeconds: 60, key: 'ip' } }]);
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await l.check('orders', client));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false, false]);
    expect(results.map((r) => r.decidedBy)).toEqual(['store', 'store', 'store', 'store', 'store']);
    const refused = results[3]!;
    expect(refused.error).toBeInstanceOf(RateLimitedError);
    expect(refused.error?.code).toBe('RATE_LIMITED');
    expect(httpStatusOf(refused.error!.code)).toBe(429);
    expect(refused.error?.details).toMatchObject({ limit: 3, windowSeconds: 60 });
    const retry = refused.error?.details?.retryAfterSeconds as number;
    expect(retry).toBeGreaterThanOrEqual(59);
    expect(retry).toBeLessThanOrEqual(60);
  });

  it('sends RateLimit-* headers on every answer and Retry-After when refused', async () => {
    const l = limiter([{ id: 'orders', rateLimit: { points: 2, durationSeconds: 30, key: 'ip' } }]);
    const first = await l.check('orders', client);
    const second = await l.check('orders', client);
    const third = await l.check('orders', client);
    expect(first.headers).toMatchObject({
      'RateLimit-Limit': '2',
      'RateLimit-Remaining': '1',
      'RateLimit-Policy': '2;w=30',
    });
    expect(first.headers['Retry-After']).toBeUndefined();
    const reset = Number(first.headers['RateLimit-Reset']);
    expect(reset).toBeGreaterThanOrEqual(29);
    expect(reset).toBeLessThanOrEqual(30);
    expect(second.headers['RateLimit-Remaining']).toBe('0');
    expect(third.headers).toMatchObject({
      'RateLimit-Limit': '2',
      'RateLimit-Remaining': '0',
      'RateLimit-Policy': '2;w=30',
    });
    expect(third.headers['Retry-After']).toBe(third.headers['RateLimit-Reset']);
    expect(Number(third.headers['Retry-After'])).toBe(third.error?.details?.retryAfterSeconds);
  });

  it('starts a new window once the old one has passed', async () => {
    const l = limiter([{ id: 'orders', rateLimit: { points: 1, durationSeconds: 1, key: 'ip' } }]);
    expect((await l.check('orders', client)).allowed).toBe(true);
    expect((await l.check('orders', client)).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await l.check('orders', client)).allowed).toBe(true);
  });

  it('blocks a key that went over the limit for blockSeconds', async () => {
    const l = limiter([{ id: 'login', rateLimit: { points: 1, durationSeconds: 1, key: 'ip', blockSeconds: 30 } }]);
    await l.check('login', client);
    const refused = await l.check('login', client);
    expect(refused.allowed).toBe(false);
    expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(29);
    await new Promise((r) => setTimeout(r, 1100));
    // The 1 s window has passed, the block has not.
    expect((await l.check('login', client)).allowed).toBe(false);
  });

  it('lets routes without a limit (and unknown routes) through without headers', async () => {
    const l = limiter([{ id: 'free' }]);
    for (const id of ['free', 'nope']) {
      const r = await l.check(id, client);
      expect(r).toMatchObject({ allowed: true, decidedBy: 'none', headers: {} });
    }
  });

  it('counts each route separately', async () => {
    const l = limiter([
      { id: 'a', rateLimit: { points: 1, durationSeconds: 60, key: 'ip' } },
      { id: 'b', rateLimit: { points: 1, durationSeconds: 60, key: 'ip' } },
    ]);
    expect((await l.check('a', client)).allowed).toBe(true);
    expect((await l.check('b', client)).allowed).toBe(true);
    expect((await l.check('a', client)).allowed).toBe(false);
  });
});

describe('limiters are built when routes change, not per request', () => {
  it('keeps the limiter and its counters while a route keeps its policy', async () => {
    const policy = { points: 2, durationSeconds: 60, key: 'ip' } as const;
    const l = limiter([{ id: 'orders', rateLimit: policy }]);
    const before = l.forRoute('orders');
    await l.check('orders', client);
    l.setRoutes([{ id: 'orders', rateLimit: { ...policy } }, { id: 'other' }]);
    expect(l.forRoute('orders')).toBe(before);
    expect((await l.check('orders', client)).headers['RateLimit-Remaining']).toBe('0');
  });

  it('builds a fresh limiter when the policy changes, and forgets removed routes', async () => {
    const l = limiter([{ id: 'orders', rateLimit: { points: 1, durationSeconds: 60, key: 'ip' } }]);
    const before = l.forRoute('orders');
    await l.check('orders', client);
    l.setRoutes([{ id: 'orders', rateLimit: { points: 5, durationSeconds: 60, key: 'ip' } }]);
    expect(l.forRoute('orders')).not.toBe(before);
    const r = await l.check('orders', client);
    expect(r.headers['RateLimit-Remaining']).toBe('4');
    l.setRoutes([]);
    expect(l.forRoute('orders')).toBeUndefined();
    expect((await l.check('orders', client)).decidedBy).toBe('none');
  });

  it('rejects an invalid route config naming it, and keeps the previous routes', async () => {
    const l = limiter([{ id: 'orders', rateLimit: { points: 1, durationSeconds: 60, key: 'ip' } }]);
    const before = l.forRoute('orders');
    const bad: [unknown, RegExp][] = [
      [{ points: 0, durationSeconds: 60, key: 'ip' }, /routes\["x"\]\.rateLimit\.points/],
      [{ points: 1.5, durationSeconds: 60, key: 'ip' }, /\.points/],
      [{ points: 1, durationSeconds: 0.5, key: 'ip' }, /\.durationSeconds/],
      [{ points: 1, durationSeconds: 60, key: 'cookie' }, /\.key/],
      [{ points: 1, durationSeconds: 60, key: 'ip', blockSeconds: -1 }, /\.blockSeconds/],
      ['100/min', /routes\["x"\]\.rateLimit/],
    ];
    for (const [rateLimit, message] of bad) {
      const attempt = () =>
        l.setRoutes([
          { id: 'orders', rateLimit: { points: 9, durationSeconds: 9, key: 'ip' } },
          { id: 'x', rateLimit: rateLimit as RateLimitConfig },
        ]);
      expect(attempt).toThrow(InvalidOptionsError);
      expect(attempt).toThrow(message);
    }
    expect(() => l.setRoutes([{ id: 'a' }, { id: 'a' }])).toThrow(/used twice/);
    expect(l.forRoute('orders')).toBe(before);
  });
});

describe('RateLimiter options and lifecycle', () => {
  it('validates its options naming the bad one', () => {
    expect(() => new RateLimiter({ onStoreFailure: 'maybe' as never })).toThrow(/onStoreFailure/);
    expect(() => new RateLimiter({ storeTimeoutMs: 0 })).toThrow(/storeTimeoutMs/);
    expect(() => new RateLimiter({ ipv6PrefixLength: 129 })).toThrow(/ipv6PrefixLength/);
    expect(() => new RateLimiter({ trustProxy: -1 })).toThrow(/trustProxy/);
    expect(() => new RateLimiter({ storeFailureThreshold: 0 })).toThrow(/storeFailureThreshold/);
    expect(() => new RateLimiter({ storeRetryAfterMs: -1 })).toThrow(/storeRetryAfterMs/);
  });

  it('has idempotent start and close, and refuses checks once closed', async () => {
    const l = new RateLimiter({ store: new MemoryRateLimitStore() });
    l.setRoutes([{ id: 'r', rateLimit: { points: 1, durationSeconds: 1, key: 'ip' } }]);
    await l.start();
    await l.start();
    await l.close();
    await l.close();
    const err = await l.check('r', client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClosedError);
    expect(isSwitchyardError(err, 'CLOSED')).toBe(true);
  });
});
