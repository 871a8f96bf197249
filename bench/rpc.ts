/**
 * RPC suite: unary request/reply with the server in another process, ~100-byte JSON.
 * Baseline: raw amqplib (direct reply-to, prefetch 100, noDelay). Ours: AmqpTransport
 * serve/call with an ajv validator on request and response. Rounds alternate
 * raw, ours, raw, ours, ... on the same RabbitMQ; each figure is the best of its rounds.
 */

import { deleteTopology } from './lib/cleanup.js';
import { benchAmqpUrl, benchNamespace, envInt } from './lib/config.js';
import { startFixture } from './lib/fixture.js';
import { cpuMicros } from './lib/fixture-process.js';
import { concurrent, type Op, sequential, type ThroughputResult } from './lib/load.js';
import { oursRpcCaller } from './lib/ours-rpc-caller.js';
import { PAYLOAD } from './lib/payload.js';
import { RawRpcCaller } from './lib/raw-rpc-caller.js';
import { BENCH_METHOD, BENCH_SERVICE, rpcExchange, rpcQueue } from './lib/rpc-topology.js';
import type { LatencySummary } from './lib/stats.js';
import { pairedMedianRatio, ratio } from './lib/stats.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';

interface Caller {
  call: Op;
  close(): Promise<void>;
}

interface Variant {
  name: 'raw' | 'ours';
  fixture: string;
  caller(url: string, namespace: string): Promise<Caller>;
}

const VARIANTS: Variant[] = [
  {
    name: 'raw',
    fixture: 'rpc-raw-server.ts',
    async caller(url, namespace) {
      const c = new RawRpcCaller(url, namespace);
      await c.start();
      return { call: () => c.call(BENCH_SERVICE, BENCH_METHOD, PAYLOAD), close: () => c.close() };
    },
  },
  { name: 'ours', fixture: 'rpc-ours-server.ts', caller: oursRpcCaller },
];

interface Round {
  variant: string;
  latency: LatencySummary;
  throughput: ThroughputResult;
  /** CPU time per call during the throughput phase, µs: insensitive to other load on the machine. */
  callerCpuUsPerCall: number;
  serverCpuUsPerCall: number;
}

export async function runRpc(): Promise<SuiteReport> {
  const url = benchAmqpUrl();
  const params = {
    rounds: envInt('BENCH_ROUNDS', 5),
    warmupCalls: envInt('BENCH_RPC_WARMUP', 3_000),
    latencyCalls: envInt('BENCH_RPC_LATENCY_CALLS', 2_000),
    throughputCalls: envInt('BENCH_RPC_THROUGHPUT_CALLS', 20_000),
    concurrency: envInt('BENCH_RPC_CONCURRENCY', 64),
    payloadBytes: Buffer.byteLength(JSON.stringify(PAYLOAD)),
  };
  const rounds: Round[] = [];
  for (let r = 0; r < params.rounds; r++) {
    for (const v of VARIANTS) {
      const round = await runRound(v, url, params);
      rounds.push(round);
      console.log(
        `rpc round ${r + 1}/${params.rounds} ${v.name}: p50 ${round.latency.p50.toFixed(3)} ms, ` +
          `p99 ${round.latency.p99.toFixed(3)} ms, ${Math.round(round.throughput.perSecond)} calls/s @${params.concurrency}, ` +
          `CPU/call caller ${round.callerCpuUsPerCall.toFixed(1)} µs, server ${round.serverCpuUsPerCall.toFixed(1)} µs`,
      );
    }
  }
  const best = (name: string) => {
    const mine = rounds.filter((x) => x.variant === name);
    return {
      p50Ms: Math.min(...mine.map((x) => x.latency.p50)),
      p99Ms: Math.min(...mine.map((x) => x.latency.p99)),
      callsPerSecond: Math.max(...mine.map((x) => x.throughput.perSecond)),
      p99MsAtConcurrency: Math.min(...mine.map((x) => x.throughput.latency.p99)),
      callerCpuUsPerCall: Math.min(...mine.map((x) => x.callerCpuUsPerCall)),
      serverCpuUsPerCall: Math.min(...mine.map((x) => x.serverCpuUsPerCall)),
    };
  };
  const raw = best('raw');
  const ours = best('ours');
  const rawRounds = rounds.filter((x) => x.variant === 'raw');
  const oursRounds = rounds.filter((x) => x.variant === 'ours');
  const ratios = {
    throughput_ratio: ratio(ours.callsPerSecond, raw.callsPerSecond),
    p50_ratio: ratio(ours.p50Ms, raw.p50Ms),
    p99_ratio: ratio(ours.p99Ms, raw.p99Ms),
    paired_median_throughput_ratio: pairedMedianRatio(rawRounds, oursRounds, (x) => x.throughput.perSecond),
    paired_median_p50_ratio: pairedMedianRatio(rawRounds, oursRounds, (x) => x.latency.p50),
    caller_cpu_ratio: ratio(ours.callerCpuUsPerCall, raw.callerCpuUsPerCall),
    server_cpu_ratio: ratio(ours.serverCpuUsPerCall, raw.serverCpuUsPerCall),
  };
  printTable(
    `rpc: best of ${params.rounds} alternating rounds (c=1: ${params.latencyCalls} calls; c=${params.concurrency}: ${params.throughputCalls} calls)`,
    [
      'variant',
      'p50 ms (c=1)',
      'p99 ms (c=1)',
      `calls/s (c=${params.concurrency})`,
      `p99 ms (c=${params.concurrency})`,
      'caller CPU µs/call',
      'server CPU µs/call',
    ],
    [raw, ours].map((f, i) => [
      i === 0 ? 'raw amqplib' : 'AmqpTransport',
      f.p50Ms,
      f.p99Ms,
      f.callsPerSecond,
      f.p99MsAtConcurrency,
      f.callerCpuUsPerCall,
      f.serverCpuUsPerCall,
    ]),
  );
  printTable(
    'rpc ratios (ours / raw)',
    ['ratio', 'value', 'target', 'met'],
    [
      ['throughput_ratio', ratios.throughput_ratio, '>= 0.9', String(ratios.throughput_ratio >= 0.9)],
      ['p50_ratio', ratios.p50_ratio, '<= 1.2', String(ratios.p50_ratio <= 1.2)],
      ['p99_ratio', ratios.p99_ratio, '(info)', '-'],
      ['paired_median_throughput_ratio', ratios.paired_median_throughput_ratio, '(noise check)', '-'],
      ['paired_median_p50_ratio', ratios.paired_median_p50_ratio, '(noise check)', '-'],
      ['caller_cpu_ratio', ratios.caller_cpu_ratio, '(info)', '-'],
      ['server_cpu_ratio', ratios.server_cpu_ratio, '(info)', '-'],
    ],
  );
  return {
    method: `best of ${params.rounds} rounds, alternating raw then ours each round`,
    params,
    figures: { raw, ours },
    ratio: ratios,
    targets: { throughput_ratio: '>= 0.9', p50_ratio: '<= 1.2' },
    met: ratios.throughput_ratio >= 0.9 && ratios.p50_ratio <= 1.2,
    rounds,
  };
}

async function runRound(
  v: Variant,
  url: string,
  params: { warmupCalls: number; latencyCalls: number; throughputCalls: number; concurrency: number },
): Promise<Round> {
  // A fresh namespace per round: no queue, consumer or connection carries over.
  const namespace = benchNamespace('rpc');
  const server = await startFixture(v.fixture, { BENCH_AMQP: url, BENCH_NAMESPACE: namespace });
  let caller: Caller | undefined;
  try {
    caller = await v.caller(url, namespace);
    await concurrent(caller.call, params.warmupCalls, params.concurrency);
    await sequential(caller.call, Math.min(500, params.warmupCalls));
    const latency = await sequential(caller.call, params.latencyCalls);
    const server0 = await server.cpuMicros();
    const caller0 = cpuMicros();
    const throughput = await concurrent(caller.call, params.throughputCalls, params.concurrency);
    const callerCpuUsPerCall = (cpuMicros() - caller0) / params.throughputCalls;
    const serverCpuUsPerCall = ((await server.cpuMicros()) - server0) / params.throughputCalls;
    return { variant: v.name, latency, throughput, callerCpuUsPerCall, serverCpuUsPerCall };
  } finally {
    await caller?.close();
    await server.stop();
    // The request queue is auto-delete; the exchanges would outlive the round.
    await deleteTopology(url, [rpcQueue(namespace, BENCH_SERVICE)], [rpcExchange(namespace), `${namespace}.events`]);
  }
}
