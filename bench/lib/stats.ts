/** Latency and rate figures from raw samples. Samples are milliseconds. */

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarizeLatencies(samplesMs: readonly number[]): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** Operations per second for `count` operations that took `elapsedMs`. */
export function ratePerSecond(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (count * 1000) / elapsedMs : Number.NaN;
}

/** ours / baseline, rounded to 3 decimals (NaN when the baseline is 0). */
export function ratio(ours: number, baseline: number): number {
  return baseline > 0 ? Math.round((ours / baseline) * 1000) / 1000 : Number.NaN;
}

/** Milliseconds since an arbitrary origin, sub-microsecond resolution. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Median of a list of per-round figures (a noise check next to the best round). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Median over rounds of ours/raw, each ratio taken within one round (raw and ours run
 * back to back), so slow drifts in machine load cancel out.
 */
export function pairedMedianRatio<R>(raw: readonly R[], ours: readonly R[], figure: (r: R) => number): number {
  const n = Math.min(raw.length, ours.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(figure(ours[i]!) / figure(raw[i]!));
  return Math.round(median(ratios) * 1000) / 1000;
}
