import { DEFAULT_DURATION_BUCKETS, GatewayMetrics, RateLimiter, type RateLimitStore } from '@switchyard/gateway';
import { Counter, register as globalRegister, Histogram, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (0.0.4) into samples; checks every line is well formed. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      types.set(t[1]!, t[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`malformed exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = find(samples, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} is ambiguous`);
  return found[0]?.value;
}

const open: GatewayMetrics[] = [];
function metrics(...args: ConstructorParameters<typeof GatewayMetrics>): GatewayMetrics {
  const m = new GatewayMetrics(...args);
  open.push(m);
  return m;
}
afterEach(() => {
  for (const m of open.splice(0)) m.close();
});

describe('GatewayMetrics exposition', () => {
  it('counts and times requests per route, method and status', async () => {
    const m = metrics();
    m.setRoutes(['orders', 'users']);
    m.observeRequest('orders', 'GET', 200, 0.004);
    m.observeRequest('orders', 'GET', 200, 0.2);
    m.observeRequest('orders', 'POST', 503, 3);
    m.route('users').request('GET', 404, 0.0005);
    const text = await m.render();
    const { samples, types } = parse(text);
    expect(types.get('switchyard_gateway_requests_total')).toBe('counter');
    expect(types.get('switchyard_gateway_request_duration_seconds')).toBe('histogram');
    const total = 'switchyard_gateway_requests_total';
    expect(value(samples, total, { route: 'orders', method: 'GET', status: '200' })).toBe(2);
    expect(value(samples, total, { route: 'orders', method: 'POST', status: '503' })).toBe(1);
    expect(value(samples, total, { route: 'users', method: 'GET', status: '404' })).toBe(1);

    const bucket = 'switchyard_gateway_request_duration_seconds_bucket';
    const getBuckets = find(samples, bucket, { route: 'orders', method: 'GET' });
    expect(getBuckets.map((b) => b.labels.le)).toEqual([...DEFAULT_DURATION_BUCKETS.map(String), '+Inf']);
    expect(value(samples, bucket, { route: 'orders', method: 'GET', le: '0.001' })).toBe(0);
    expect(value(samples, bucket, { route: 'orders', method: 'GET', le: '0.005' })).toBe(1);
    expect(value(samples, bucket, { route: 'orders', method: 'GET', le: '0.25' })).toBe(2);
    expect(value(samples, bucket, { route: 'users', method: 'GET', le: '0.001' })).toBe(1);
    expect(
      value(samples, 'switchyard_gateway_request_duration_seconds_count', { route: 'orders', method: 'POST' }),
    ).toBe(1);
    expect(
      value(samples, 'switchyard_gateway_request_duration_seconds_sum', { route: 'orders', method: 'GET' }),
    ).toBeCloseTo(0.204);
  });

  it('counts upstream errors, rejections and rate limiting by bounded reasons', async () => {
    const m = metrics();
    m.setRoutes(['orders']);
    m.upstreamError('orders', 'timeout');
    m.upstreamError('orders', 'timeout');
    m.upstreamError('orders', 'something-new' as never);
    m.rejected('orders', 'auth');
    m.rejected('orders', 'size');
    m.rateLimited('orders');
    m.rateLimitStoreFailure('orders', 'insurance');
    const { samples } = parse(await m.render());
    expect(value(samples, 'switchyard_gateway_upstream_errors_total', { route: 'orders', reason: 'timeout' })).toBe(2);
    expect(value(samples, 'switchyard_gateway_upstream_errors_total', { route: 'orders', reason: 'other' })).toBe(1);
    expect(value(samples, 'switchyard_gateway_rejected_total', { route: 'orders', reason: 'auth' })).toBe(1);
    expect(value(samples, 'switchyard_gateway_rejected_total', { route: 'orders', reason: 'size' })).toBe(1);
    expect(value(samples, 'switchyard_gateway_rate_limited_total', { route: 'orders' })).toBe(1);
    expect(
      value(samples, 'switchyard_gateway_ratelimit_store_failures_total', { route: 'orders', mode: 'insurance' }),
    ).toBe(1);
  });

  it('reports circuit states, routes and instances as gauges', async () => {
    const m = metrics();
    m.setRoutes(['orders', 'users', 'carts']);
    m.setCircuitState('orders', '10.0.0.1:8080', 'open');
    m.setCircuitState('orders', '10.0.0.2:8080', 'half-open');
    m.setCircuitState('orders', '10.0.0.3:8080', 'closed');
    m.setInstances('orders', 3);
    m.setInstances('users', 0);
    let { samples } = parse(await m.render());
    const state = 'switchyard_gateway_circuit_state';
    expect(value(samples, state, { route: 'orders', target: '10.0.0.1:8080' })).toBe(2);
    expect(value(samples, state, { route: 'orders', target: '10.0.0.2:8080' })).toBe(1);
    expect(value(samples, state, { route: 'orders', target: '10.0.0.3:8080' })).toBe(0);
    expect(value(samples, 'switchyard_gateway_routes')).toBe(3);
    expect(value(samples, 'switchyard_gateway_instances', { service: 'orders' })).toBe(3);
    expect(value(samples, 'switchyard_gateway_instances', { service: 'users' })).toBe(0);
    m.removeCircuit('orders', '10.0.0.1:8080');
    m.removeService('users');
    ({ samples } = parse(await m.render()));
    expect(find(samples, state, { target: '10.0.0.1:8080' })).toEqual([]);
    expect(find(samples, 'switchyard_gateway_instances', { service: 'users' })).toEqual([]);
  });

  it('serves the Prometheus text content type', () => {
    expect(metrics().contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});

describe('bounded label cardinality', () => {
  it('counts undeclared routes and made-up methods under fixed values', async () => {
    const m = metrics();
    m.setRoutes(['orders']);
    for (let i = 0; i < 50; i++) m.observeRequest(`/scan/${i}`, `M${i}`, 404, 0.001);
    m.observeRequest(undefined, 'GET', 404, 0.001);
    const { samples } = parse(await m.render());
    const total = find(samples, 'switchyard_gateway_requests_total');
    expect(total).toHaveLength(2);
    expect(value(samples, 'switchyard_gateway_requests_total', { route: '_unmatched', method: '_other' })).toBe(50);
    expect(value(samples, 'switchyard_gateway_requests_total', { route: '_unmatched', method: 'GET' })).toBe(1);
  });

  it('removes the series of a route that is gone', async () => {
    const m = metrics();
    m.setRoutes(['orders', 'users']);
    m.observeRequest('orders', 'GET', 200, 0.01);
    m.observeRequest('users', 'GET', 200, 0.01);
    m.rejected('orders', 'validation');
    m.rateLimited('orders');
    m.setCircuitState('orders', 't1', 'open');
    m.setRoutes(['users']);
    const { samples } = parse(await m.render());
    expect(samples.filter((s) => s.labels.route === 'orders')).toEqual([]);
    expect(value(samples, 'switchyard_gateway_requests_total', { route: 'users' })).toBe(1);
    expect(value(samples, 'switchyard_gateway_routes')).toBe(1);
    // A route that is not declared any more is counted as unmatched.
    m.observeRequest('orders', 'GET', 200, 0.01);
    const after = parse(await m.render()).samples;
    expect(value(after, 'switchyard_gateway_requests_total', { route: '_unmatched' })).toBe(1);
  });
});

describe('registry', () => {
  it('is its own, not prom-client global one, so two instances never clash', async () => {
    const a = metrics();
    const b = metrics();
    a.setRoutes(['r']);
    b.setRoutes(['r']);
    a.observeRequest('r', 'GET', 200, 0.01);
    expect(globalRegister.getSingleMetric('switchyard_gateway_requests_total')).toBeUndefined();
    expect(value(parse(await a.render()).samples, 'switchyard_gateway_requests_total', { route: 'r' })).toBe(1);
    expect(value(parse(await b.render()).samples, 'switchyard_gateway_requests_total', { route: 'r' })).toBeUndefined();
  });

  it('adds process metrics and default labels when asked', async () => {
    const m = metrics({ processMetrics: true, defaultLabels: { instance: 'gw-1' } });
    const { samples } = parse(await m.render());
    expect(find(samples, 'process_cpu_user_seconds_total')).toHaveLength(1);
    expect(find(samples, 'switchyard_gateway_routes')[0]?.labels.instance).toBe('gw-1');
    expect(find(parse(await metrics().render()).samples, 'process_cpu_user_seconds_total')).toEqual([]);
  });

  it('validates its buckets', () => {
    expect(() => new GatewayMetrics({ durationBuckets: [0.1, 0.05] })).toThrow(/durationBuckets/);
    expect(() => new GatewayMetrics({ durationBuckets: [] })).toThrow(/durationBuckets/);
  });
});

describe('rate limiter reporting to GatewayMetrics', () => {
  it('counts 429s and store failures per route', async () => {
    const m = metrics();
    m.setRoutes(['orders']);
    const down: RateLimitStore = {
      kind: 'down',
      remote: true,
      createLimiter: () => ({ consume: () => Promise.reject(new Error('down')) }),
      start: async () => {},
      close: async () => {},
    };
    const ok = new RateLimiter({ metrics: m });
    const failing = new RateLimiter({ metrics: m, store: down, onStoreFailure: 'allow' });
    for (const l of [ok, failing])
      l.setRoutes([{ id: 'orders', rateLimit: { points: 1, durationSeconds: 60, key: 'ip' } }]);
    for (let i = 0; i < 3; i++) await ok.check('orders', { ip: '198.51.100.1' });
    for (let i = 0; i < 2; i++) await failing.check('orders', { ip: '198.51.100.1' });
    await ok.close();
    await failing.close();
    const { samples } = parse(await m.render());
    expect(value(samples, 'switchyard_gateway_rate_limited_total', { route: 'orders' })).toBe(2);
    expect(
      value(samples, 'switchyard_gateway_ratelimit_store_failures_total', { route: 'orders', mode: 'allow' }),
    ).toBe(2);
  });
});

describe('hot path', () => {
  it('pre-bound children: measured against labels() per call', () => {
    // Figures only: no timing assertion. Same work both ways (one counter inc, one histogram observe).
    const n = 100_000;
    const registry = new Registry();
    const c = new Counter({ name: 'c', help: 'c', labelNames: ['route', 'method', 'status'], registers: [registry] });
    const h = new Histogram({
      name: 'h',
      help: 'h',
      labelNames: ['route', 'method'],
      buckets: [...DEFAULT_DURATION_BUCKETS],
      registers: [registry],
    });
    const m = metrics();
    m.setRoutes(['orders']);
    const route = m.route('orders');
    const perCall = () => {
      const t = performance.now();
      for (let i = 0; i < n; i++) {
        c.labels({ route: 'orders', method: 'GET', status: '200' }).inc();
        h.labels({ route: 'orders', method: 'GET' }).observe(0.01);
      }
      return ((performance.now() - t) * 1e6) / n;
    };
    const bound = () => {
      const t = performance.now();
      for (let i = 0; i < n; i++) route.request('GET', 200, 0.01);
      return ((performance.now() - t) * 1e6) / n;
    };
    // Best of three rounds each, alternating, to damp noise from other test files running alongside.
    let a = Number.POSITIVE_INFINITY;
    let b = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++) {
      a = Math.min(a, perCall());
      b = Math.min(b, bound());
    }
    console.log(
      `request metrics: labels() per call ${a.toFixed(0)} ns/request, pre-bound children ${b.toFixed(0)} ns/request`,
    );
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });
});
