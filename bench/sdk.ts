/**
 * SDK suite: unary RPC through `createService` + `service.call` (schema validation of the
 * request on the caller and of request and reply on the server, registry lookup,
 * deadline, trace context, circuit breaker) with the server in another process, against
 * the raw-amqplib baseline of the rpc suite in the same run.
 *
 * Variant `sdk-auth` is the same with auth on both sides: an auth service in this process
 * (memory store), the caller and the server each with their own service account, every
 * call carrying the caller's token and verified (cached per token) with the rules before
 * the handler.
 *
 * Measured as the rpc suite is: in each round all variants are up at once (each with its
 * own server process and namespace) and run in short interleaved bursts, the order
 * alternating, so background load on the machine falls on all of them alike; each round
 * gives sdk/raw ratios from its pooled bursts, and the suite reports the median over
 * rounds. Headlines: `throughput_ratio` (calls/s at concurrency 64, target >= 0.9),
 * `caller_cpu_ratio` (caller CPU per call, target <= 1.15) and `auth_throughput_ratio`
 * (sdk-auth/raw, target >= 0.8).
 *
 * The SDK needs a registry: the suite starts a private etcd (tests/harness) unless
 * SWITCHYARD_BENCH_ETCD names one.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInfrastructure, createService } from '@switchyard/sdk';
import { pino } from 'pino';
import { PrivateEtcd } from '../tests/harness/etcd.js';
import { startBenchAuth } from './lib/auth-service.js';
import { deleteTopology } from './lib/cleanup.js';
import { benchAmqpUrl, benchNamespace, envInt } from './lib/config.js';
import { type Fixture, startFixture } from './lib/fixture.js';
import { type CallFigures, type CallSuiteParams, measureInterleaved } from './lib/interleaved-calls.js';
import type { Op } from './lib/load.js';
import { PAYLOAD, REQUEST_SCHEMA, RESPONSE_SCHEMA } from './lib/payload.js';
import { RawRpcCaller } from './lib/raw-rpc-caller.js';
import { waitForInstance } from './lib/registry-wait.js';
import { BENCH_METHOD, BENCH_SERVICE, rpcExchange, rpcQueue } from './lib/rpc-topology.js';
import { median } from './lib/stats.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';

const TARGET = 0.9;
const CPU_TARGET = 1.15;
const AUTH_TARGET = 0.8;

interface Caller {
  call: Op;
  close(): Promise<void>;
}

interface Setting {
  url: string;
  etcd: string;
  schemasDir: string;
  auth: {
    issuer: string;
    server: { clientId: string; clientSecret: string };
    caller: { clientId: string; clientSecret: string };
  };
}

type VariantName = 'raw' | 'sdk' | 'sdk-auth';

interface Variant {
  name: VariantName;
  fixture: string;
  caller(s: Setting, namespace: string): Promise<Caller>;
}

const VARIANTS: Variant[] = [
  {
    name: 'raw',
    fixture: 'rpc-raw-server.ts',
    async caller(s, namespace) {
      const c = new RawRpcCaller(s.url, namespace);
      await c.start();
      return { call: () => c.call(BENCH_SERVICE, BENCH_METHOD, PAYLOAD), close: () => c.close() };
    },
  },
  { name: 'sdk', fixture: 'sdk-server.ts', caller: (s, ns) => sdkCaller(s, ns, false) },
  { name: 'sdk-auth', fixture: 'sdk-server.ts', caller: (s, ns) => sdkCaller(s, ns, true) },
];

/** The caller side of "sdk": a service with its own infrastructure from SWITCHYARD_* settings. */
async function sdkCaller(s: Setting, namespace: string, withAuth: boolean): Promise<Caller> {
  const infra = await createInfrastructure({
    env: {
      SWITCHYARD_ETCD: s.etcd,
      SWITCHYARD_AMQP: s.url,
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_SCHEMAS: s.schemasDir,
    },
    auth: withAuth ? { issuer: s.auth.issuer } : false,
    logger: pino({ level: 'warn' }),
  });
  const service = createService({
    name: 'bench-caller',
    version: '1.0.0',
    infra,
    ...(withAuth ? { credentials: s.auth.caller } : {}),
  });
  await service.start();
  await waitForInstance(infra.registry.view(), BENCH_SERVICE);
  const target = `${BENCH_SERVICE}.${BENCH_METHOD}`;
  return {
    call: () => service.call(target, PAYLOAD),
    close: async () => {
      await service.close();
      await infra.close();
    },
  };
}

type Params = CallSuiteParams;

type Round = Record<VariantName, CallFigures>;

export async function runSdk(): Promise<SuiteReport> {
  const url = benchAmqpUrl();
  const params: Params = {
    rounds: envInt('BENCH_ROUNDS', 5),
    bursts: envInt('BENCH_BURSTS', 10),
    warmupCalls: envInt('BENCH_RPC_WARMUP', 3_000),
    latencyCalls: envInt('BENCH_RPC_LATENCY_CALLS', 2_000),
    throughputCalls: envInt('BENCH_RPC_THROUGHPUT_CALLS', 20_000),
    concurrency: envInt('BENCH_RPC_CONCURRENCY', 64),
    payloadBytes: Buffer.byteLength(JSON.stringify(PAYLOAD)),
  };
  const etcd = process.env.SWITCHYARD_BENCH_ETCD ? undefined : await PrivateEtcd.start();
  const schemasDir = writeSchemas();
  const authServer = await startBenchAuth();
  const account = async (id: string) => ({
    clientId: id,
    clientSecret: (await authServer.createAccount({ id, type: 'service' })).secret,
  });
  const setting: Setting = {
    url,
    etcd: process.env.SWITCHYARD_BENCH_ETCD ?? etcd!.endpoint,
    schemasDir,
    auth: {
      issuer: authServer.address()!.url,
      server: await account(BENCH_SERVICE),
      caller: await account('bench-caller'),
    },
  };
  const rounds: Round[] = [];
  try {
    for (let r = 0; r < params.rounds; r++) {
      const round = await runRound(setting, params);
      rounds.push(round);
      for (const v of VARIANTS) {
        const f = round[v.name];
        console.log(
          `sdk round ${r + 1}/${params.rounds} ${v.name.padEnd(8)}: p50 ${f.latency.p50.toFixed(3)} ms, ` +
            `p99 ${f.latency.p99.toFixed(3)} ms, ${Math.round(f.callsPerSecond)} calls/s @${params.concurrency}, ` +
            `CPU/call caller ${f.callerCpuUsPerCall.toFixed(1)} µs, server ${f.serverCpuUsPerCall.toFixed(1)} µs`,
        );
      }
      console.log(
        `sdk round ${r + 1}/${params.rounds} sdk/raw: throughput ${(round.sdk.callsPerSecond / round.raw.callsPerSecond).toFixed(3)}, ` +
          `caller CPU ${(round.sdk.callerCpuUsPerCall / round.raw.callerCpuUsPerCall).toFixed(3)}`,
      );
    }
  } finally {
    await etcd?.close();
    await authServer.close();
    rmSync(schemasDir, { recursive: true, force: true });
  }
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  /** Per round `of`/`to` of one figure, then the median over rounds. */
  const per = (of: VariantName, to: VariantName, get: (f: CallFigures) => number) =>
    r3(median(rounds.map((r) => get(r[of]) / get(r[to]))));
  const perRound = (get: (f: CallFigures) => number) => rounds.map((r) => r3(get(r.sdk) / get(r.raw)));
  const ratios = {
    throughput_ratio: per('sdk', 'raw', (f) => f.callsPerSecond),
    caller_cpu_ratio: per('sdk', 'raw', (f) => f.callerCpuUsPerCall),
    auth_throughput_ratio: per('sdk-auth', 'raw', (f) => f.callsPerSecond),
    auth_vs_sdk_throughput_ratio: per('sdk-auth', 'sdk', (f) => f.callsPerSecond),
    auth_caller_cpu_ratio: per('sdk-auth', 'raw', (f) => f.callerCpuUsPerCall),
    auth_p50_ratio: per('sdk-auth', 'raw', (f) => f.latency.p50),
    p50_ratio: per('sdk', 'raw', (f) => f.latency.p50),
    p99_ratio: per('sdk', 'raw', (f) => f.latency.p99),
    server_cpu_ratio: per('sdk', 'raw', (f) => f.serverCpuUsPerCall),
  };
  const medianFigures = (v: VariantName) => ({
    p50Ms: median(rounds.map((r) => r[v].latency.p50)),
    p99Ms: median(rounds.map((r) => r[v].latency.p99)),
    callsPerSecond: median(rounds.map((r) => r[v].callsPerSecond)),
    p99MsAtConcurrency: median(rounds.map((r) => r[v].p99MsAtConcurrency)),
    callerCpuUsPerCall: median(rounds.map((r) => r[v].callerCpuUsPerCall)),
    serverCpuUsPerCall: median(rounds.map((r) => r[v].serverCpuUsPerCall)),
  });
  const figures = { raw: medianFigures('raw'), sdk: medianFigures('sdk'), sdkAuth: medianFigures('sdk-auth') };
  printTable(
    `sdk: median of ${params.rounds} rounds; per round and variant ${params.latencyCalls} calls at c=1 and ${params.throughputCalls} at c=${params.concurrency}, in ${params.bursts} interleaved bursts`,
    [
      'variant',
      'p50 ms (c=1)',
      'p99 ms (c=1)',
      `calls/s (c=${params.concurrency})`,
      `p99 ms (c=${params.concurrency})`,
      'caller CPU µs/call',
      'server CPU µs/call',
    ],
    [figures.raw, figures.sdk, figures.sdkAuth].map((f, i) => [
      ['raw amqplib', 'createService/call', 'createService/call, auth on both sides'][i]!,
      f.p50Ms,
      f.p99Ms,
      f.callsPerSecond,
      f.p99MsAtConcurrency,
      f.callerCpuUsPerCall,
      f.serverCpuUsPerCall,
    ]),
  );
  const throughputMet = ratios.throughput_ratio >= TARGET;
  const cpuMet = ratios.caller_cpu_ratio <= CPU_TARGET;
  const authMet = ratios.auth_throughput_ratio >= AUTH_TARGET;
  printTable(
    'sdk ratios (median over rounds of the ratio within each round)',
    ['ratio', 'value', 'target', 'met'],
    [
      ['throughput_ratio (sdk/raw calls/s @64)', ratios.throughput_ratio, `>= ${TARGET}`, String(throughputMet)],
      ['caller_cpu_ratio (sdk/raw CPU per call)', ratios.caller_cpu_ratio, `<= ${CPU_TARGET}`, String(cpuMet)],
      ['auth_throughput_ratio (sdk-auth/raw @64)', ratios.auth_throughput_ratio, `>= ${AUTH_TARGET}`, String(authMet)],
      ['auth_vs_sdk_throughput_ratio', ratios.auth_vs_sdk_throughput_ratio, '(cost of auth)', '-'],
      ['auth_caller_cpu_ratio', ratios.auth_caller_cpu_ratio, '(info)', '-'],
      ['auth_p50_ratio', ratios.auth_p50_ratio, '(info)', '-'],
      ['p50_ratio', ratios.p50_ratio, '(info)', '-'],
      ['p99_ratio', ratios.p99_ratio, '(info)', '-'],
      ['server_cpu_ratio', ratios.server_cpu_ratio, '(info)', '-'],
    ],
  );
  const spread = (xs: number[]) => `${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)}`;
  const perRoundThroughput = perRound((f) => f.callsPerSecond);
  const perRoundCpu = perRound((f) => f.callerCpuUsPerCall);
  console.log(
    `sdk/raw per round: throughput ${perRoundThroughput.join(', ')} (${spread(perRoundThroughput)}); ` +
      `caller CPU ${perRoundCpu.join(', ')} (${spread(perRoundCpu)})`,
  );
  return {
    method: `${params.rounds} rounds; in each, raw, sdk and sdk-auth run side by side in ${params.bursts} interleaved bursts (order alternating); ratios are medians over rounds of the ratio within each round`,
    params,
    figures,
    ratio: ratios,
    perRound: { throughput_ratio: perRoundThroughput, caller_cpu_ratio: perRoundCpu },
    targets: {
      throughput_ratio: `>= ${TARGET}`,
      caller_cpu_ratio: `<= ${CPU_TARGET}`,
      auth_throughput_ratio: `>= ${AUTH_TARGET}`,
    },
    met: throughputMet && cpuMet && authMet,
    rounds,
  };
}

interface Side {
  name: VariantName;
  namespace: string;
  server: Fixture;
  caller: Caller;
}

async function runRound(s: Setting, params: Params): Promise<Round> {
  const sides: Side[] = [];
  try {
    for (const v of VARIANTS) {
      // A fresh namespace per round: no queue, consumer, connection or registry key carries over.
      const namespace = benchNamespace('sdk');
      const server = await startFixture(v.fixture, {
        BENCH_AMQP: s.url,
        BENCH_NAMESPACE: namespace,
        BENCH_ETCD: s.etcd,
        BENCH_SCHEMAS: s.schemasDir,
        ...(v.name === 'sdk-auth'
          ? {
              BENCH_AUTH_URL: s.auth.issuer,
              BENCH_CLIENT_ID: s.auth.server.clientId,
              BENCH_CLIENT_SECRET: s.auth.server.clientSecret,
            }
          : {}),
      });
      const side: Partial<Side> = { name: v.name, namespace, server };
      sides.push(side as Side);
      side.caller = await v.caller(s, namespace);
    }
    const figures = await measureInterleaved(sides, params);
    const round = {} as Round;
    sides.forEach((side, i) => {
      round[side.name] = figures[i]!;
    });
    return round;
  } finally {
    for (const side of sides) {
      await side.caller?.close();
      await side.server.stop();
      await deleteTopology(
        s.url,
        [rpcQueue(side.namespace, BENCH_SERVICE)],
        [rpcExchange(side.namespace), `${side.namespace}.events`],
      );
    }
  }
}

function writeSchemas(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-schemas-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'request.json'), JSON.stringify(REQUEST_SCHEMA));
  writeFileSync(join(dir, 'response.json'), JSON.stringify(RESPONSE_SCHEMA));
  return dir;
}
