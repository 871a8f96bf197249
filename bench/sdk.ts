/**
 * SDK suite: unary RPC through `createService` + `service.call` (schema validation of the
 * request on the caller and of request and reply on the server, registry lookup,
 * deadline, trace context, circuit breaker) with the server in another process, against
 * the raw-amqplib baseline of the rpc suite in the same run. Rounds alternate raw, sdk,
 * raw, sdk, ...; each figure is the best of its rounds. The headline `throughput_ratio` is sdk/raw
 * calls per second at concurrency 64 (target >= 0.85).
 *
 * Variant `sdk-auth` is the same with auth on both sides: an auth service in this process
 * (memory store), the caller and the server each with their own service account, every
 * call carrying the caller's token and verified (cached per token) with the rules before
 * the handler. Its headline `auth_throughput_ratio` is sdk-auth/raw at concurrency 64
 * (target >= 0.8).
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
import { startFixture } from './lib/fixture.js';
import { cpuMicros } from './lib/fixture-process.js';
import { concurrent, type Op, sequential, type ThroughputResult } from './lib/load.js';
import { PAYLOAD, REQUEST_SCHEMA, RESPONSE_SCHEMA } from './lib/payload.js';
import { RawRpcCaller } from './lib/raw-rpc-caller.js';
import { BENCH_METHOD, BENCH_SERVICE, rpcExchange, rpcQueue } from './lib/rpc-topology.js';
import type { LatencySummary } from './lib/stats.js';
import { pairedMedianRatio, ratio } from './lib/stats.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';

const TARGET = 0.85;
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

interface Variant {
  name: 'raw' | 'sdk' | 'sdk-auth';
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
  // The server registered before printing READY; wait until this caller's view has it.
  const view = infra.registry.view();
  const until = Date.now() + 10_000;
  while (view.instances(BENCH_SERVICE).length === 0) {
    if (Date.now() > until) throw new Error('the sdk bench server never appeared in the registry');
    await new Promise((r) => setTimeout(r, 20));
  }
  const target = `${BENCH_SERVICE}.${BENCH_METHOD}`;
  return {
    call: () => service.call(target, PAYLOAD),
    close: async () => {
      await service.close();
      await infra.close();
    },
  };
}

interface Round {
  variant: string;
  latency: LatencySummary;
  throughput: ThroughputResult;
  /** CPU time per call during the throughput phase, µs: insensitive to other load on the machine. */
  callerCpuUsPerCall: number;
  serverCpuUsPerCall: number;
}

export async function runSdk(): Promise<SuiteReport> {
  const url = benchAmqpUrl();
  const params = {
    rounds: envInt('BENCH_ROUNDS', 5),
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
      for (const v of VARIANTS) {
        const round = await runRound(v, setting, params);
        rounds.push(round);
        console.log(
          `sdk round ${r + 1}/${params.rounds} ${v.name}: p50 ${round.latency.p50.toFixed(3)} ms, ` +
            `p99 ${round.latency.p99.toFixed(3)} ms, ${Math.round(round.throughput.perSecond)} calls/s @${params.concurrency}, ` +
            `CPU/call caller ${round.callerCpuUsPerCall.toFixed(1)} µs, server ${round.serverCpuUsPerCall.toFixed(1)} µs`,
        );
      }
    }
  } finally {
    await etcd?.close();
    await authServer.close();
    rmSync(schemasDir, { recursive: true, force: true });
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
  const sdk = best('sdk');
  const sdkAuth = best('sdk-auth');
  const ratios = {
    throughput_ratio: ratio(sdk.callsPerSecond, raw.callsPerSecond),
    auth_throughput_ratio: ratio(sdkAuth.callsPerSecond, raw.callsPerSecond),
    auth_vs_sdk_throughput_ratio: ratio(sdkAuth.callsPerSecond, sdk.callsPerSecond),
    auth_p50_ratio: ratio(sdkAuth.p50Ms, raw.p50Ms),
    p50_ratio: ratio(sdk.p50Ms, raw.p50Ms),
    p99_ratio: ratio(sdk.p99Ms, raw.p99Ms),
    paired_median_throughput_ratio: pairedMedianRatio(
      rounds.filter((x) => x.variant === 'raw'),
      rounds.filter((x) => x.variant === 'sdk'),
      (x) => x.throughput.perSecond,
    ),
    caller_cpu_ratio: ratio(sdk.callerCpuUsPerCall, raw.callerCpuUsPerCall),
    server_cpu_ratio: ratio(sdk.serverCpuUsPerCall, raw.serverCpuUsPerCall),
  };
  printTable(
    `sdk: best of ${params.rounds} alternating rounds (c=1: ${params.latencyCalls} calls; c=${params.concurrency}: ${params.throughputCalls} calls)`,
    [
      'variant',
      'p50 ms (c=1)',
      'p99 ms (c=1)',
      `calls/s (c=${params.concurrency})`,
      `p99 ms (c=${params.concurrency})`,
      'caller CPU µs/call',
      'server CPU µs/call',
    ],
    [raw, sdk, sdkAuth].map((f, i) => [
      ['raw amqplib', 'createService/call', 'createService/call, auth on both sides'][i]!,
      f.p50Ms,
      f.p99Ms,
      f.callsPerSecond,
      f.p99MsAtConcurrency,
      f.callerCpuUsPerCall,
      f.serverCpuUsPerCall,
    ]),
  );
  printTable(
    'sdk ratios (sdk / raw)',
    ['ratio', 'value', 'target', 'met'],
    [
      [
        'throughput_ratio (calls/s @64)',
        ratios.throughput_ratio,
        `>= ${TARGET}`,
        String(ratios.throughput_ratio >= TARGET),
      ],
      [
        'auth_throughput_ratio (calls/s @64, auth on)',
        ratios.auth_throughput_ratio,
        `>= ${AUTH_TARGET}`,
        String(ratios.auth_throughput_ratio >= AUTH_TARGET),
      ],
      ['auth_vs_sdk_throughput_ratio', ratios.auth_vs_sdk_throughput_ratio, '(cost of auth)', '-'],
      ['auth_p50_ratio', ratios.auth_p50_ratio, '(info)', '-'],
      ['p50_ratio', ratios.p50_ratio, '(info)', '-'],
      ['p99_ratio', ratios.p99_ratio, '(info)', '-'],
      ['paired_median_throughput_ratio', ratios.paired_median_throughput_ratio, '(noise check)', '-'],
      ['caller_cpu_ratio', ratios.caller_cpu_ratio, '(info)', '-'],
      ['server_cpu_ratio', ratios.server_cpu_ratio, '(info)', '-'],
    ],
  );
  return {
    method: `best of ${params.rounds} rounds, alternating raw then sdk each round`,
    params,
    figures: { raw, sdk, sdkAuth },
    ratio: ratios,
    targets: { throughput_ratio: `>= ${TARGET}`, auth_throughput_ratio: `>= ${AUTH_TARGET}` },
    met: ratios.throughput_ratio >= TARGET && ratios.auth_throughput_ratio >= AUTH_TARGET,
    rounds,
  };
}

async function runRound(
  v: Variant,
  s: Setting,
  params: { warmupCalls: number; latencyCalls: number; throughputCalls: number; concurrency: number },
): Promise<Round> {
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
  let caller: Caller | undefined;
  try {
    caller = await v.caller(s, namespace);
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
    await deleteTopology(s.url, [rpcQueue(namespace, BENCH_SERVICE)], [rpcExchange(namespace), `${namespace}.events`]);
  }
}

function writeSchemas(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-schemas-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'request.json'), JSON.stringify(REQUEST_SCHEMA));
  writeFileSync(join(dir, 'response.json'), JSON.stringify(RESPONSE_SCHEMA));
  return dir;
}
