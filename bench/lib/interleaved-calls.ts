/**
 * The unary-RPC measurement the rpc and sdk suites share: every variant is up at once;
 * after a warm-up, the latency phase (sequential calls) and the throughput phase
 * (`concurrency` in flight) each run in `bursts` interleaved bursts, the variants' order
 * alternating, so background load on the machine falls on all of them alike. CPU per
 * call of both processes is taken over the throughput bursts.
 */
import type { Fixture } from './fixture.js';
import { cpuMicros } from './fixture-process.js';
import { concurrentRun, type Op, sequentialSamples } from './load.js';
import { type LatencySummary, ratePerSecond, summarizeLatencies } from './stats.js';

/** One variant's figures in one round. */
export interface CallFigures {
  latency: LatencySummary;
  callsPerSecond: number;
  p99MsAtConcurrency: number;
  /** CPU time per call during the throughput bursts, µs: hardly moved by other load. */
  callerCpuUsPerCall: number;
  serverCpuUsPerCall: number;
}

// Type aliases, not interfaces: the suites report their params as a plain record.
export type CallPhases = {
  bursts: number;
  warmupCalls: number;
  latencyCalls: number;
  throughputCalls: number;
  concurrency: number;
};

/** A unary-call suite's parameters: the phases, how many rounds, the payload's size (reported). */
export type CallSuiteParams = CallPhases & {
  rounds: number;
  payloadBytes: number;
};

/** A variant under measurement: its caller in this process, its server in its own. */
export interface CallSide {
  readonly caller: { readonly call: Op };
  readonly server: Fixture;
}

/** The figures of each side, in the order given. */
export async function measureInterleaved(sides: readonly CallSide[], p: CallPhases): Promise<CallFigures[]> {
  const acc = sides.map((side) => ({
    side,
    latency: [] as number[],
    atConcurrency: [] as number[],
    elapsedMs: 0,
    callerCpu: 0,
    serverCpu: 0,
  }));
  for (const { side } of acc) {
    await concurrentRun(side.caller.call, p.warmupCalls, p.concurrency);
    await sequentialSamples(side.caller.call, Math.min(500, p.warmupCalls));
  }
  const perBurst = (n: number) => Math.max(1, Math.floor(n / p.bursts));
  for (let b = 0; b < p.bursts; b++) {
    for (const a of order(acc, b))
      a.latency.push(...(await sequentialSamples(a.side.caller.call, perBurst(p.latencyCalls))));
  }
  for (let b = 0; b < p.bursts; b++) {
    for (const a of order(acc, b)) {
      const server0 = await a.side.server.cpuMicros();
      const caller0 = cpuMicros();
      const run = await concurrentRun(a.side.caller.call, perBurst(p.throughputCalls), p.concurrency);
      a.callerCpu += cpuMicros() - caller0;
      a.serverCpu += (await a.side.server.cpuMicros()) - server0;
      a.elapsedMs += run.elapsedMs;
      a.atConcurrency.push(...run.samples);
    }
  }
  return acc.map((a) => ({
    latency: summarizeLatencies(a.latency),
    callsPerSecond: ratePerSecond(a.atConcurrency.length, a.elapsedMs),
    p99MsAtConcurrency: summarizeLatencies(a.atConcurrency).p99,
    callerCpuUsPerCall: a.callerCpu / a.atConcurrency.length,
    serverCpuUsPerCall: a.serverCpu / a.atConcurrency.length,
  }));
}

/** Even bursts in the sides' order, odd ones reversed: none always goes first. */
export function order<T>(sides: readonly T[], burst: number): readonly T[] {
  return burst % 2 === 0 ? sides : [...sides].reverse();
}
