/**
 * Stream suite: server-streaming RPC, the server in another process, ~120-byte JSON items.
 * Baseline: raw amqplib speaking protocol §5 (credit window, `x-seq`, direct reply-to on
 * both sides). Ours: the SDK end to end — a `createService` `streams` method checking the
 * request and every item against their schemas, consumed with `for await` over
 * `service.stream()` (registry lookup, request check, deadline, circuit breaker, every
 * item checked again on the caller). Same item count and the same window for both.
 *
 * As in the rpc suite, both variants are up at once (own server process and namespace
 * each) and measured in interleaved bursts — raw, ours, ours, raw, ... — so load on the
 * machine falls on both alike; each round yields an ours/raw ratio of items/s, and the
 * suite reports the median over rounds. The headline `items_ratio` targets >= 0.9.
 *
 * The SDK needs a registry: a private etcd (tests/harness) unless SWITCHYARD_BENCH_ETCD names one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInfrastructure, createService } from '@switchyard/sdk';
import { pino } from 'pino';
import { PrivateEtcd } from '../tests/harness/etcd.js';
import { deleteTopology } from './lib/cleanup.js';
import { benchAmqpUrl, benchNamespace, envInt } from './lib/config.js';
import { type Fixture, startFixture } from './lib/fixture.js';
import { cpuMicros } from './lib/fixture-process.js';
import { RawStreamCaller } from './lib/raw-stream-caller.js';
import { waitForInstance } from './lib/registry-wait.js';
import { rpcExchange, rpcQueue } from './lib/rpc-topology.js';
import { median, nowMs, ratePerSecond } from './lib/stats.js';
import {
  STREAM_ITEM_SCHEMA,
  STREAM_METHOD,
  STREAM_REQUEST_SCHEMA,
  STREAM_SERVICE,
  streamItem,
} from './lib/stream-items.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';

const TARGET = 0.9;

type VariantName = 'raw' | 'ours';

type Params = {
  rounds: number;
  bursts: number;
  /** Items per stream; one stream per burst and variant. */
  items: number;
  warmupItems: number;
  window: number;
  itemBytes: number;
};

interface Consumer {
  /** Consume one whole stream of `count` items; resolves with the number seen. */
  stream(count: number): Promise<number>;
  close(): Promise<void>;
}

interface Setting {
  url: string;
  etcd: string;
  schemasDir: string;
  window: number;
}

const VARIANTS: Record<VariantName, { fixture: string; consumer(s: Setting, namespace: string): Promise<Consumer> }> = {
  raw: {
    fixture: 'stream-raw-server.ts',
    async consumer(s, namespace) {
      const c = new RawStreamCaller(s.url, namespace);
      await c.start();
      return { stream: (count) => c.stream(STREAM_SERVICE, STREAM_METHOD, count, s.window), close: () => c.close() };
    },
  },
  ours: { fixture: 'stream-sdk-server.ts', consumer: sdkConsumer },
};

/** The consumer side of "ours": a service of its own, iterating `service.stream()`. */
async function sdkConsumer(s: Setting, namespace: string): Promise<Consumer> {
  const infra = await createInfrastructure({
    env: {
      SWITCHYARD_ETCD: s.etcd,
      SWITCHYARD_AMQP: s.url,
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_SCHEMAS: s.schemasDir,
    },
    logger: pino({ level: 'warn' }),
  });
  const service = createService({ name: 'bench-stream-caller', version: '1.0.0', infra });
  await service.start();
  await waitForInstance(infra.registry.view(), STREAM_SERVICE);
  const target = `${STREAM_SERVICE}.${STREAM_METHOD}`;
  return {
    async stream(count) {
      let seen = 0;
      for await (const _ of service.stream(target, { count }, { window: s.window, timeoutMs: 120_000 })) seen++;
      return seen;
    },
    close: async () => {
      await service.close();
      await infra.close();
    },
  };
}

/** One variant's figures in one round. */
interface Figures {
  itemsPerSecond: number;
  /** CPU time per item during the measured bursts, µs: hardly moved by other load. */
  callerCpuUsPerItem: number;
  serverCpuUsPerItem: number;
}
type Round = Record<VariantName, Figures>;

export async function runStream(): Promise<SuiteReport> {
  const params: Params = {
    rounds: envInt('BENCH_ROUNDS', 3),
    bursts: envInt('BENCH_BURSTS', 10),
    items: envInt('BENCH_STREAM_ITEMS', 100_000),
    warmupItems: envInt('BENCH_STREAM_WARMUP', 10_000),
    window: envInt('BENCH_STREAM_WINDOW', 16),
    itemBytes: Buffer.byteLength(JSON.stringify(streamItem(12_345))),
  };
  const etcd = process.env.SWITCHYARD_BENCH_ETCD ? undefined : await PrivateEtcd.start();
  const schemasDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-stream-schemas-'));
  writeFileSync(join(schemasDir, 'request.json'), JSON.stringify(STREAM_REQUEST_SCHEMA));
  writeFileSync(join(schemasDir, 'item.json'), JSON.stringify(STREAM_ITEM_SCHEMA));
  const setting: Setting = {
    url: benchAmqpUrl(),
    etcd: process.env.SWITCHYARD_BENCH_ETCD ?? etcd!.endpoint,
    schemasDir,
    window: params.window,
  };
  const rounds: Round[] = [];
  try {
    for (let r = 0; r < params.rounds; r++) {
      const round = await runRound(setting, params);
      rounds.push(round);
      for (const v of ['raw', 'ours'] as const) {
        const f = round[v];
        console.log(
          `stream round ${r + 1}/${params.rounds} ${v.padEnd(4)}: ${Math.round(f.itemsPerSecond)} items/s, ` +
            `CPU/item caller ${f.callerCpuUsPerItem.toFixed(1)} µs, server ${f.serverCpuUsPerItem.toFixed(1)} µs`,
        );
      }
      console.log(
        `stream round ${r + 1}/${params.rounds} items ratio ${(round.ours.itemsPerSecond / round.raw.itemsPerSecond).toFixed(3)}`,
      );
    }
  } finally {
    await etcd?.close();
    rmSync(schemasDir, { recursive: true, force: true });
  }
  const per = (get: (f: Figures) => number) => median(rounds.map((r) => get(r.ours) / get(r.raw)));
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const ratios = {
    items_ratio: r3(per((f) => f.itemsPerSecond)),
    caller_cpu_ratio: r3(per((f) => f.callerCpuUsPerItem)),
    server_cpu_ratio: r3(per((f) => f.serverCpuUsPerItem)),
  };
  const medianFigures = (v: VariantName) => ({
    itemsPerSecond: median(rounds.map((r) => r[v].itemsPerSecond)),
    callerCpuUsPerItem: median(rounds.map((r) => r[v].callerCpuUsPerItem)),
    serverCpuUsPerItem: median(rounds.map((r) => r[v].serverCpuUsPerItem)),
  });
  const figures = { raw: medianFigures('raw'), ours: medianFigures('ours') };
  printTable(
    `stream: median of ${params.rounds} rounds; per round and variant ${params.items} items of ${params.itemBytes} bytes, window ${params.window}, in ${params.bursts} interleaved bursts`,
    ['variant', 'items/s', 'caller CPU µs/item', 'server CPU µs/item'],
    (['raw', 'ours'] as const).map((v) => {
      const f = figures[v];
      return [
        v === 'raw' ? 'raw amqplib' : 'SDK service.stream()',
        f.itemsPerSecond,
        f.callerCpuUsPerItem,
        f.serverCpuUsPerItem,
      ];
    }),
  );
  const met = ratios.items_ratio >= TARGET;
  printTable(
    'stream ratios (ours / raw, median over rounds)',
    ['ratio', 'value', 'target', 'met'],
    [
      ['items_ratio', ratios.items_ratio, `>= ${TARGET}`, String(met)],
      ['caller_cpu_ratio', ratios.caller_cpu_ratio, '(info)', '-'],
      ['server_cpu_ratio', ratios.server_cpu_ratio, '(info)', '-'],
    ],
  );
  return {
    method: `${params.rounds} rounds; in each, raw and ours run side by side in ${params.bursts} interleaved bursts (order alternating), one stream per burst; ratios are medians over rounds of ours/raw`,
    params,
    figures,
    ratio: ratios,
    targets: { items_ratio: `>= ${TARGET}` },
    met,
    rounds,
  };
}

interface Side {
  name: VariantName;
  namespace: string;
  server: Fixture;
  consumer: Consumer;
  items: number;
  elapsedMs: number;
  callerCpu: number;
  serverCpu: number;
}

async function runRound(s: Setting, params: Params): Promise<Round> {
  const sides: Side[] = [];
  try {
    for (const name of ['raw', 'ours'] as const) {
      // A fresh namespace and server per round: nothing carries over.
      const namespace = benchNamespace('stream');
      const server = await startFixture(VARIANTS[name].fixture, {
        BENCH_AMQP: s.url,
        BENCH_NAMESPACE: namespace,
        BENCH_ETCD: s.etcd,
        BENCH_SCHEMAS: s.schemasDir,
      });
      const side: Partial<Side> = { name, namespace, server, items: 0, elapsedMs: 0, callerCpu: 0, serverCpu: 0 };
      sides.push(side as Side);
      side.consumer = await VARIANTS[name].consumer(s, namespace);
    }
    for (const side of sides) await expectItems(side, params.warmupItems);
    const perBurst = Math.max(1, Math.floor(params.items / params.bursts));
    for (let b = 0; b < params.bursts; b++) {
      for (const side of b % 2 === 0 ? sides : [...sides].reverse()) {
        const server0 = await side.server.cpuMicros();
        const caller0 = cpuMicros();
        const t0 = nowMs();
        await expectItems(side, perBurst);
        side.elapsedMs += nowMs() - t0;
        side.callerCpu += cpuMicros() - caller0;
        side.serverCpu += (await side.server.cpuMicros()) - server0;
        side.items += perBurst;
      }
    }
    const figuresOf = (side: Side): Figures => ({
      itemsPerSecond: ratePerSecond(side.items, side.elapsedMs),
      callerCpuUsPerItem: side.callerCpu / side.items,
      serverCpuUsPerItem: side.serverCpu / side.items,
    });
    return { raw: figuresOf(sides[0]!), ours: figuresOf(sides[1]!) };
  } finally {
    for (const side of sides) {
      await side.consumer?.close();
      await side.server.stop();
      await deleteTopology(
        s.url,
        [rpcQueue(side.namespace, STREAM_SERVICE)],
        [rpcExchange(side.namespace), `${side.namespace}.events`],
      );
    }
  }
}

async function expectItems(side: Side, count: number): Promise<void> {
  const seen = await side.consumer.stream(count);
  if (seen !== count) throw new Error(`${side.name}: a stream of ${count} items delivered ${seen}`);
}
