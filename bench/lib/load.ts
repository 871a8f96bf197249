import { type LatencySummary, nowMs, ratePerSecond, summarizeLatencies } from './stats.js';

export type Op = () => Promise<unknown>;

/** `count` calls one after another; the latency of each, in ms. */
export async function sequentialSamples(op: Op, count: number): Promise<number[]> {
  const samples = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const t0 = nowMs();
    await op();
    samples[i] = nowMs() - t0;
  }
  return samples;
}

export interface ConcurrentRun {
  elapsedMs: number;
  /** Latency of each call, ms. */
  samples: number[];
}

/** `count` calls with `concurrency` in flight at all times. */
export async function concurrentRun(op: Op, count: number, concurrency: number): Promise<ConcurrentRun> {
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
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { elapsedMs: nowMs() - t0, samples };
}

/** `count` calls one after another, summarized. */
export async function sequential(op: Op, count: number): Promise<LatencySummary> {
  return summarizeLatencies(await sequentialSamples(op, count));
}

export interface ThroughputResult {
  count: number;
  elapsedMs: number;
  perSecond: number;
  latency: LatencySummary;
}

/** `count` calls with `concurrency` in flight; overall rate and per-call latency. */
export async function concurrent(op: Op, count: number, concurrency: number): Promise<ThroughputResult> {
  const run = await concurrentRun(op, count, concurrency);
  return {
    count,
    elapsedMs: run.elapsedMs,
    perSecond: ratePerSecond(count, run.elapsedMs),
    latency: summarizeLatencies(run.samples),
  };
}
