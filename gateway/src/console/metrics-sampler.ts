import type { Registry } from 'prom-client';

const DURATION = 'switchyard_gateway_request_duration_seconds';

/** One point of the console's charts. Rates per second; latencies in ms (null: no requests in the interval). */
export interface MetricsSample {
  /** Epoch ms. */
  readonly t: number;
  readonly requestRate: number;
  readonly requestP50: number | null;
  readonly requestP95: number | null;
  readonly requestP99: number | null;
  readonly rpcRate: number;
  readonly rpcP50: number | null;
  readonly rpcP95: number | null;
  readonly rpcP99: number | null;
}

/** Cumulative histogram state: bucket upper bounds (seconds, +Inf last) and counts. */
interface Cumulative {
  bounds: number[];
  counts: number[];
  total: number;
}

/**
 * Samples the gateway's own request-duration histogram (the one `/metrics` exposes) every
 * few seconds and turns the difference between two samples into rates and p50/p95/p99 —
 * the same estimate `histogram_quantile()` makes, so the console agrees with Prometheus.
 * "RPC" is the requests of routes whose target is an RPC method: that is where the gateway
 * times RPC calls.
 */
export class MetricsSampler {
  readonly #registry: Registry;
  readonly #rpcRoutes: () => ReadonlySet<string>;
  readonly #keep: number;
  readonly #samples: MetricsSample[] = [];
  #last: { t: number; all: Cumulative; rpc: Cumulative } | undefined;

  constructor(registry: Registry, rpcRoutes: () => ReadonlySet<string>, keep: number) {
    this.#registry = registry;
    this.#rpcRoutes = rpcRoutes;
    this.#keep = keep;
  }

  get samples(): readonly MetricsSample[] {
    return this.#samples;
  }

  /** Take a sample; returns it (undefined for the very first call, which only sets the baseline). */
  async sample(now = Date.now()): Promise<MetricsSample | undefined> {
    const metric = this.#registry.getSingleMetric(DURATION);
    if (metric === undefined) return undefined;
    const { values } = await metric.get();
    const rpc = this.#rpcRoutes();
    const all = emptyCumulative();
    const rpcOnly = emptyCumulative();
    for (const v of values) {
      if (!(v as { metricName?: string }).metricName?.endsWith('_bucket')) continue;
      const le = v.labels.le;
      const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      add(all, bound, v.value);
      if (rpc.has(String(v.labels.route))) add(rpcOnly, bound, v.value);
    }
    const last = this.#last;
    this.#last = { t: now, all, rpc: rpcOnly };
    if (last === undefined) return undefined;
    const seconds = Math.max((now - last.t) / 1000, 0.001);
    const a = delta(all, last.all);
    const r = delta(rpcOnly, last.rpc);
    const sample: MetricsSample = {
      t: now,
      requestRate: a.total / seconds,
      requestP50: quantile(a, 0.5),
      requestP95: quantile(a, 0.95),
      requestP99: quantile(a, 0.99),
      rpcRate: r.total / seconds,
      rpcP50: quantile(r, 0.5),
      rpcP95: quantile(r, 0.95),
      rpcP99: quantile(r, 0.99),
    };
    this.#samples.push(sample);
    if (this.#samples.length > this.#keep) this.#samples.shift();
    return sample;
  }
}

function emptyCumulative(): Cumulative {
  return { bounds: [], counts: [], total: 0 };
}

/** Sums series with the same bucket bound (one series per route and method). */
function add(c: Cumulative, bound: number, count: number): void {
  let i = c.bounds.indexOf(bound);
  if (i < 0) {
    i = c.bounds.findIndex((b) => b > bound);
    if (i < 0) i = c.bounds.length;
    c.bounds.splice(i, 0, bound);
    c.counts.splice(i, 0, 0);
  }
  c.counts[i]! += count;
  if (bound === Number.POSITIVE_INFINITY) c.total += count;
}

function delta(now: Cumulative, before: Cumulative): Cumulative {
  const counts = now.bounds.map((b, i) => {
    const j = before.bounds.indexOf(b);
    // A series that vanished (route removed) makes a counter go down: clamp, never negative.
    return Math.max(0, now.counts[i]! - (j < 0 ? 0 : before.counts[j]!));
  });
  return { bounds: now.bounds, counts, total: counts.at(-1) ?? 0 };
}

/** Linear interpolation inside the bucket, like Prometheus; ms. */
export function quantile(c: Cumulative, q: number): number | null {
  if (c.total <= 0) return null;
  const rank = q * c.total;
  for (let i = 0; i < c.bounds.length; i++) {
    if (c.counts[i]! < rank) continue;
    const upper = c.bounds[i]!;
    const lower = i === 0 ? 0 : c.bounds[i - 1]!;
    // The +Inf bucket has no upper bound: report the highest finite one.
    if (upper === Number.POSITIVE_INFINITY) return lower * 1000;
    const below = i === 0 ? 0 : c.counts[i - 1]!;
    const inBucket = c.counts[i]! - below;
    const f = inBucket > 0 ? (rank - below) / inBucket : 1;
    return (lower + (upper - lower) * f) * 1000;
  }
  return null;
}
