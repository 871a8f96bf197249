/**
 * RPC suite: unary request/reply with the server in another process, ~100-byte JSON.
 * Baseline: raw amqplib (direct reply-to, prefetch 100, noDelay). Ours: AmqpTransport
 * serve/call validating request and response through the SDK's SchemaRegistry.
 *
 * Both variants are up at once (each with its own server process and namespace) and
 * measured in short interleaved bursts — raw, ours, ours, raw, ... — so background load
 * on the machine falls on both alike. Each round yields ours/raw ratios; the suite
 * reports the median over rounds.
 */
import { deleteTopology } from './lib/cleanup.js';
import { benchAmqpUrl, benchNamespace, envInt } from './lib/config.js';
import { type Fixture, startFixture } from './lib/fixture.js';
import { type CallFigures, type CallSuiteParams, measureInterleaved } from './lib/interleaved-calls.js';
import type { Op } from './lib/load.js';
import { oursRpcCaller } from './lib/ours-rpc-caller.js';
import { PAYLOAD } from './lib/payload.js';
import { RawRpcCaller } from './lib/raw-rpc-caller.js';
import { BENCH_METHOD, BENCH_SERVICE, rpcExchange, rpcQueue } from './lib/rpc-topology.js';
import { median } from './lib/stats.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';

type VariantName = 'raw' | 'ours';

interface Caller {
  call: Op;
  close(): Promise<void>;
}

const VARIANTS: Record<VariantName, { fixture: string; caller(url: string, namespace: string): Promise<Caller> }> = {
  raw: {
    fixture: 'rpc-raw-server.ts',
    async caller(url, namespace) {
      const c = new RawRpcCaller(url, namespace);
      await c.start();
      return { call: () => c.call(BENCH_SERVICE, BENCH_METHOD, PAYLOAD), close: () => c.close() };
    },
  },
  ours: { fixture: 'rpc-ours-server.ts', caller: oursRpcCaller },
};

type Params = CallSuiteParams;

type Round = Record<VariantName, CallFigures>;

export async function runRpc(): Promise<SuiteReport> {
  const url = benchAmqpUrl();
  const params: Params = {
    rounds: envInt('BENCH_ROUNDS', 3),
    bursts: envInt('BENCH_BURSTS', 10),
    warmupCalls: envInt('BENCH_RPC_WARMUP', 3_000),
    latencyCalls: envInt('BENCH_RPC_LATENCY_CALLS', 2_000),
    throughputCalls: envInt('BENCH_RPC_THROUGHPUT_CALLS', 20_000),
    concurrency: envInt('BENCH_RPC_CONCURRENCY', 64),
    payloadBytes: Buffer.byteLength(JSON.stringify(PAYLOAD)),
  };
  const rounds: Round[] = [];
  for (let r = 0; r < params.rounds; r++) {
    const round = await runRound(url, params);
    rounds.push(round);
    for (const v of ['raw', 'ours'] as const) {
      const f = round[v];
      console.log(
        `rpc round ${r + 1}/${params.rounds} ${v.padEnd(4)}: p50 ${f.latency.p50.toFixed(3)} ms, p99 ${f.latency.p99.toFixed(3)} ms, ` +
          `${Math.round(f.callsPerSecond)} calls/s @${params.concurrency}, ` +
          `CPU/call caller ${f.callerCpuUsPerCall.toFixed(1)} µs, server ${f.serverCpuUsPerCall.toFixed(1)} µs`,
      );
    }
  }
  const per = (get: (f: CallFigures) => number) => median(rounds.map((r) => get(r.ours) / get(r.raw)));
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const ratios = {
    throughput_ratio: r3(per((f) => f.callsPerSecond)),
    p50_ratio: r3(per((f) => f.latency.p50)),
    p99_ratio: r3(per((f) => f.latency.p99)),
    caller_cpu_ratio: r3(per((f) => f.callerCpuUsPerCall)),
    server_cpu_ratio: r3(per((f) => f.serverCpuUsPerCall)),
  };
  const medianFigures = (v: VariantName) => ({
    p50Ms: median(rounds.map((r) => r[v].latency.p50)),
    p99Ms: median(rounds.map((r) => r[v].latency.p99)),
    callsPerSecond: median(rounds.map((r) => r[v].callsPerSecond)),
    p99MsAtConcurrency: median(rounds.map((r) => r[v].p99MsAtConcurrency)),
    callerCpuUsPerCall: median(rounds.map((r) => r[v].callerCpuUsPerCall)),
    serverCpuUsPerCall: median(rounds.map((r) => r[v].serverCpuUsPerCall)),
  });
  const figures = { raw: medianFigures('raw'), ours: medianFigures('ours') };
  printTable(
    `rpc: median of ${params.rounds} rounds; per round and variant ${params.latencyCalls} calls at c=1 and ${params.throughputCalls} at c=${params.concurrency}, in ${params.bursts} interleaved bursts`,
    [
      'variant',
      'p50 ms (c=1)',
      'p99 ms (c=1)',
      `calls/s (c=${params.concurrency})`,
      `p99 ms (c=${params.concurrency})`,
      'caller CPU µs/call',
      'server CPU µs/call',
    ],
    (['raw', 'ours'] as const).map((v) => {
      const f = figures[v];
      return [
        v === 'raw' ? 'raw amqplib' : 'AmqpTransport',
        f.p50Ms,
        f.p99Ms,
        f.callsPerSecond,
        f.p99MsAtConcurrency,
        f.callerCpuUsPerCall,
        f.serverCpuUsPerCall,
      ];
    }),
  );
  const throughputMet = ratios.throughput_ratio >= 0.9;
  const p50Met = ratios.p50_ratio <= 1.2;
  printTable(
    'rpc ratios (ours / raw, median over rounds)',
    ['ratio', 'value', 'target', 'met'],
    [
      ['throughput_ratio', ratios.throughput_ratio, '>= 0.9', String(throughputMet)],
      ['p50_ratio', ratios.p50_ratio, '<= 1.2', String(p50Met)],
      ['p99_ratio', ratios.p99_ratio, '(info)', '-'],
      ['caller_cpu_ratio', ratios.caller_cpu_ratio, '(info)', '-'],
      ['server_cpu_ratio', ratios.server_cpu_ratio, '(info)', '-'],
    ],
  );
  return {
    method: `${params.rounds} rounds; in each, raw and ours run side by side in ${params.bursts} interleaved bursts (order alternating); ratios are medians over rounds of ours/raw`,
    params,
    figures,
    ratio: ratios,
    targets: { throughput_ratio: '>= 0.9', p50_ratio: '<= 1.2' },
    met: throughputMet && p50Met,
    rounds,
  };
}

interface Side {
  name: VariantName;
  namespace: string;
  server: Fixture;
  caller: Caller;
}

async function runRound(url: string, params: Params): Promise<Round> {
  const sides: Side[] = [];
  try {
    for (const name of ['raw', 'ours'] as const) {
      // A fresh namespace and server per round: nothing carries over.
      const namespace = benchNamespace('rpc');
      const server = await startFixture(VARIANTS[name].fixture, { BENCH_AMQP: url, BENCH_NAMESPACE: namespace });
      const side: Partial<Side> = { name, namespace, server };
      sides.push(side as Side);
      side.caller = await VARIANTS[name].caller(url, namespace);
    }
    const [raw, ours] = await measureInterleaved(sides, params);
    return { raw: raw!, ours: ours! };
  } finally {
    for (const s of sides) {
      await s.caller?.close();
      await s.server.stop();
      // The request queue is auto-delete; the exchanges would outlive the round.
      await deleteTopology(
        url,
        [rpcQueue(s.namespace, BENCH_SERVICE)],
        [rpcExchange(s.namespace), `${s.namespace}.events`],
      );
    }
  }
}
