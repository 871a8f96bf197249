import { RateLimitedError, UnavailableError } from '@switchyard/broker';
import {
  httpStatusOf,
  RateLimiter,
  type RateLimiterOptions,
  type RateLimitMetrics,
  type RateLimitStore,
  type StoreFailureMode,
  type StoreLimiter,
} from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

/** A remote store whose every call behaves as `consume` says: the pluggable-store contract. */
function store(consume: StoreLimiter['consume']): RateLimitStore & { calls: number } {
  const s = {
    kind: 'test',
    remote: true,
    calls: 0,
    createLimiter: () => ({
      consume: (key: string) => {
        s.calls++;
        return consume(key);
      },
    }),
    start: async () => {},
    close: async () => {},
  };
  return s;
}

const failing = () => store(() => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')));
const hanging = () => store(() => new Promise(() => {}));
/** Answers only after the timeout, and then with a failure: must not surface as an unhandled rejection. */
const late = () => store(() => new Promise((_, reject) => setTimeout(() => reject(new Error('late failure')), 120)));
const weird = () => store(() => Promise.reject('not an error'));

function recorder() {
  const events: string[] = [];
  const metrics: RateLimitMetrics = {
    rateLimited: (route) => events.push(`limited ${route}`),
    rateLimitStoreFailure: (route, mode) => events.push(`failure ${route} ${mode}`),
  };
  const logs: { obj: object; msg?: string }[] = [];
  const logger = { warn: (obj: object, msg?: string) => logs.push({ obj, msg }) };
  return { events, metrics, logs, logger };
}

async function run(mode: StoreFailureMode, s: RateLimitStore, n: number, options: RateLimiterOptions = {}) {
  const rec = recorder();
  const l = new RateLimiter({
    store: s,
    onStoreFailure: mode,
    storeTimeoutMs: 50,
    metrics: rec.metrics,
    logger: rec.logger,
    ...options,
  });
  l.setRoutes([{ id: 'orders', rateLimit: { points: 2, durationSeconds: 60, key: 'ip' } }]);
  const started = performance.now();
  const results = [];
  for (let i = 0; i < n; i++) results.push(await l.check('orders', { ip: '198.51.100.1' }));
  const ms = performance.now() - started;
  await l.close();
  return { results, ms, ...rec };
}

const stores = { failing, hanging, late, weird };

describe.each(Object.entries(stores))('when the store is %s', (_name, make) => {
  it("'insurance' counts in this process instead", async () => {
    const { results, events } = await run('insurance', make(), 4);
    expect(results.map((r) => r.allowed)).toEqual([true, true, false, false]);
    expect(results.every((r) => r.decidedBy === 'insurance')).toBe(true);
    expect(results[0]!.headers).toMatchObject({ 'RateLimit-Limit': '2', 'RateLimit-Remaining': '1' });
    expect(results[2]!.error).toBeInstanceOf(RateLimitedError);
    expect(results[2]!.headers['Retry-After']).toBeDefined();
    expect(events.filter((e) => e === 'failure orders insurance')).toHaveLength(4);
    expect(events.filter((e) => e === 'limited orders')).toHaveLength(2);
  });

  it("'allow' lets every request through, counted as a store failure", async () => {
    const { results, events } = await run('allow', make(), 4);
    expect(results.every((r) => r.allowed && r.decidedBy === 'failure-mode' && r.error === undefined)).toBe(true);
    expect(events).toEqual(Array(4).fill('failure orders allow'));
  });

  it("'deny' refuses every request with 503 UNAVAILABLE", async () => {
    const { results, events } = await run('deny', make(), 3);
    for (const r of results) {
      expect(r.allowed).toBe(false);
      expect(r.error).toBeInstanceOf(UnavailableError);
      expect(httpStatusOf(r.error!.code)).toBe(503);
      // The cause stays server-side; the body says nothing about Redis.
      expect(JSON.stringify(r.error)).not.toMatch(/ECONNREFUSED|late failure|not an error/);
    }
    expect(events).toEqual(Array(3).fill('failure orders deny'));
  });
});

describe('bounded store calls', () => {
  it('never waits much longer than storeTimeoutMs for a hanging store', async () => {
    const { ms, results } = await run('allow', hanging(), 5);
    console.log(`5 checks against a hanging store (timeout 50 ms): ${ms.toFixed(0)} ms`);
    expect(results.every((r) => r.allowed)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(5 * 45);
    expect(ms).toBeLessThan(5 * 50 + 1000);
  });

  it('stops calling a store that keeps failing, so a frozen store does not slow every request', async () => {
    const s = hanging();
    const { ms, results } = await run('insurance', s, 40);
    console.log(`40 checks against a hanging store (timeout 50 ms, breaker after 5): ${ms.toFixed(0)} ms`);
    expect(s.calls).toBe(5);
    expect(results.filter((r) => r.allowed)).toHaveLength(2);
    expect(results.every((r) => r.decidedBy === 'insurance')).toBe(true);
    expect(ms).toBeLessThan(5 * 50 + 1000);
  });

  it('probes the store again after storeRetryAfterMs and goes back to it once it answers', async () => {
    const { RateLimiterMemory } = await import('rate-limiter-flexible');
    const memory = new RateLimiterMemory({ points: 100, duration: 60 });
    let up = false;
    const s = store((key) => (up ? memory.consume(key) : Promise.reject(new Error('down'))));
    const l = new RateLimiter({ store: s, storeFailureThreshold: 2, storeRetryAfterMs: 100, onStoreFailure: 'allow' });
    l.setRoutes([{ id: 'orders', rateLimit: { points: 100, durationSeconds: 60, key: 'ip' } }]);
    const check = async () => (await l.check('orders', { ip: '198.51.100.1' })).decidedBy;
    for (let i = 0; i < 6; i++) await check();
    expect(s.calls).toBe(2);
    await new Promise((r) => setTimeout(r, 150));
    await check(); // the probe fails: skipped again for another 100 ms
    await check();
    expect(s.calls).toBe(3);
    up = true;
    await new Promise((r) => setTimeout(r, 150));
    expect(await check()).toBe('store');
    expect(await check()).toBe('store');
    expect(s.calls).toBe(5);
    await l.close();
  });

  it('fails fast (no timer wait) when the store rejects at once', async () => {
    const { ms } = await run('allow', failing(), 20);
    expect(ms).toBeLessThan(20 * 50);
  });

  it('logs an ongoing failure once, not once per request', async () => {
    const { logs } = await run('allow', failing(), 50);
    expect(logs).toHaveLength(1);
    expect(logs[0]!.obj).toMatchObject({ route: 'orders', mode: 'allow', err: 'connect ECONNREFUSED 127.0.0.1:6379' });
  });
});

describe('a store that answers normally', () => {
  it('is used, and its limited answers are not mistaken for failures', async () => {
    const { RateLimiterMemory } = await import('rate-limiter-flexible');
    const memory = new RateLimiterMemory({ points: 1, duration: 60 });
    const s = store((key) => memory.consume(key));
    const { results, events } = await run('deny', s, 2);
    expect(results.map((r) => [r.allowed, r.decidedBy, r.error?.code])).toEqual([
      [true, 'store', undefined],
      [false, 'store', 'RATE_LIMITED'],
    ]);
    expect(events).toEqual(['limited orders']);
    expect(s.calls).toBe(2);
  });
});
