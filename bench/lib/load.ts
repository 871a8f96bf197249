import { type LatencySummary, nowMs, ratePerSecond, summarizeLatencies } from './stats.js';

export type Op = () => Promise<unknown>;

/** `count` calls one after another; the latency of each. */
export async function sequential(op: Op, count: number): Promise<LatencySummary> {
  const samples = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const t0 = nowMs();
    await op();
    samples[i] = nowMs() - t0;
  }
  return summarizeLatencies(samples);
}

export interface ThroughputResult {
  count: number;
  elapsedMs: number;
  perSecond: number;
  latency: LatencySummary;
}

/** `count` calls with `concurrency` in flight at all times; overall rate and per-call latency. */
export async function concurrent(op: Op, count: number, concurrency: number): Promise<ThroughputResult> {
  const samples = new Array<number>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const t0 = nowMs();
      await op();
      samples[i] = nowMs() - t0;
    }
  };
  const t0 = nowMs();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = nowMs() - t0;
  return { count, elapsedMs, perSecond: ratePerSecond(count, elapsedMs), latency: summarizeLatencies(samples) };
}
