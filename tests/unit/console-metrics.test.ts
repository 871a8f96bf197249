import { InvalidArgumentError } from '@switchyard/broker';
import { GatewayMetrics } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';
import { ErrorLog } from '../../gateway/src/console/error-log.js';
import { MetricsSampler } from '../../gateway/src/console/metrics-sampler.js';

describe('the console metrics sampler', () => {
  it('turns two histogram readings into a rate and interpolated quantiles, RPC routes apart', async () => {
    const metrics = new GatewayMetrics({ durationBuckets: [0.01, 0.1, 1] });
    metrics.setRoutes(['web', 'rpc']);
    const sampler = new MetricsSampler(metrics.registry, () => new Set(['rpc']), 10);
    expect(await sampler.sample(0)).toBeUndefined();
    // 90 fast web requests (<= 10 ms), 10 slow RPC ones (100 ms .. 1 s).
    for (let i = 0; i < 90; i++) metrics.observeRequest('web', 'GET', 200, 0.005);
    for (let i = 0; i < 10; i++) metrics.observeRequest('rpc', 'POST', 200, 0.5);
    const s = (await sampler.sample(10_000))!;
    expect(s.requestRate).toBeCloseTo(10);
    expect(s.rpcRate).toBeCloseTo(1);
    expect(s.requestP50).toBeCloseTo((50 / 90) * 10); // inside the first bucket, 0..10 ms
    expect(s.requestP95).toBeCloseTo(100 + 900 * 0.5); // half-way through the 0.1..1 s bucket
    expect(s.rpcP50).toBeCloseTo(100 + 900 * 0.5);
    // Nothing new: a zero rate, no latency to report.
    const idle = (await sampler.sample(20_000))!;
    expect(idle).toMatchObject({ requestRate: 0, requestP99: null, rpcP99: null });
    expect(sampler.samples).toHaveLength(2);
    metrics.close();
  });
});

describe('the console error log', () => {
  it('counts by code and keeps the latest, newest first, within its size', () => {
    const log = new ErrorLog(2);
    let calls = 0;
    log.onError(() => calls++);
    log.record(new InvalidArgumentError('bad body'), 'a', 'r1');
    log.record(new Error('secret internals'), 'b', 'r2');
    log.record(new InvalidArgumentError('bad again'), undefined, undefined);
    const s = log.summary();
    expect(s.byCode).toEqual({ INVALID_ARGUMENT: 2, INTERNAL: 1 });
    expect(s.recent.map((e) => e.message)).toEqual(['bad again', 'internal error']);
    expect(s.recent[1]).toMatchObject({ code: 'INTERNAL', status: 500, route: 'b' });
    expect(calls).toBe(3);
  });
});
