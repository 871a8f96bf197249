/**
 * Bidi suite: bidirectional RPC (docs/protocol.md §9), the server in another process,
 * ~120-byte JSON items, the same window (16) both ways, measured in two directions:
 * **upload** (the caller sends N items, awaiting each send; the server reads them all and
 * answers once at the end, the client-streaming shape) and **download** (the caller sends
 * one `{ count }` item; the server streams N items back and the caller consumes them).
 *
 * Baseline: raw amqplib speaking §9 by hand (lib/raw-bidi-caller.ts,
 * fixtures/bidi-raw-server.ts). Ours: the SDK end to end — `createService` `kind: 'bidi'`
 * methods checking every item against its schema, called through `service.bidi()` on a
 * second service (registry lookup, kind check, circuit breaker, every item checked again
 * on the caller). `BENCH_BIDI_OURS=transport` measures the broker alone instead:
 * `AmqpTransport.bidi()` against `AmqpTransport.serve()` validating items on the server.
 *
 * As in the stream suite, both variants are up at once (own server process and namespace
 * each) and measured in interleaved bursts — raw, ours, ours, raw, ... — so load on the
 * machine falls on both alike; each round yields an ours/raw ratio of items/s per
 * direction, and the suite reports the median over rounds. Both ratios target >= 0.85.
 *
 * The SDK needs a registry: a private etcd (tests/harness) unless SWITCHYARD_BENCH_ETCD names one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AmqpTransport } from '@switchyard/broker';
import { createInfrastructure, createService } from '@switchyard/sdk';
import { pino } from 'pino';
import { PrivateEtcd } from '../tests/harness/etcd.js';
import {
  BIDI_COUNT_SCHEMA,
  BIDI_ITEM_SCHEMA,
  BIDI_SERVICE,
  type BidiCount,
  bidiItem,
  DOWNLOAD_METHOD,
  INGEST_METHOD,
  UPLOAD_METHOD,
} from './lib/bidi-items.js';
import { deleteTopology } from './lib/cleanup.js';
import { benchAmqpUrl, benchNamespace, envInt } from './lib/config.js';
import { type Fixture, startFixture } from './lib/fixture.js';
import { cpuMicros } from './lib/fixture-process.js';
import { RawBidiCaller } from './lib/raw-bidi-caller.js';
import { waitForInstance } from './lib/registry-wait.js';
import { rpcExchange, rpcQueue } from './lib/rpc-topology.js';
import { median, nowMs, ratePerSecond } from './lib/stats.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';
import { WsBidiCaller } from './lib/ws-bidi-caller.js';

const TARGET = 0.85;

type VariantName = 'raw' | 'ours';
const DIRECTIONS = ['upload', 'download'] as const;
type Direction = (typeof DIRECTIONS)[number];

type Params = {
  rounds: number;
  bursts: number;
  /** Items per direction, round and variant; one stream per burst, direction and variant. */
  items: number;
  warmupItems: number;
  window: number;
  itemBytes: number;
};

interface Caller {
  /** Send `count` items through one stream; resolves with the count the server answered. */
  upload(count: number): Promise<number>;
  /** Have the server stream `count` items; resolves with the number consumed. */
  download(count: number): Promise<number>;
  close(): Promise<void>;
}

interface Setting {
  url: string;
  etcd: string;
  schemasDir: string;
  window: number;
}

/** What "ours" is: the SDK end to end (default), or the broker's transport alone. */
type OursKind = 'sdk' | 'transport';

interface Variant {
  fixture: string;
  label: string;
  caller(s: Setting, ns: string): Promise<Caller>;
}

const OURS: Record<OursKind, Variant> = {
  sdk: { fixture: 'bidi-sdk-server.ts', label: 'SDK service.bidi()', caller: sdkCaller },
  transport: { fixture: 'bidi-transport-server.ts', label: 'AmqpTransport.bidi()', caller: transportCaller },
};

/** `ours` is set from BENCH_BIDI_OURS when the suite starts. */
const VARIANTS: Record<VariantName, Variant> = {
  raw: {
    fixture: 'bidi-raw-server.ts',
    label: 'raw amqplib §9',
    async caller(s, namespace) {
      const c = new RawBidiCaller(s.url, namespace);
      await c.start();
      return {
        upload: (count) => c.upload(BIDI_SERVICE, count, s.window),
        download: (count) => c.download(BIDI_SERVICE, count, s.window),
        close: () => c.close(),
      };
    },
  },
  ours: OURS.sdk,
};

/** The caller side of "ours": a service of its own, calling through `service.bidi()`. */
async function sdkCaller(s: Setting, namespace: string, uploadMethod = UPLOAD_METHOD): Promise<Caller> {
  const infra = await createInfrastructure({
    env: {
      SWITCHYARD_ETCD: s.etcd,
      SWITCHYARD_AMQP: s.url,
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_SCHEMAS: s.schemasDir,
    },
    logger: pino({ level: 'warn' }),
  });
  const service = createService({ name: 'bench-bidi-caller', version: '1.0.0', infra });
  await service.start();
  await waitForInstance(infra.registry.view(), BIDI_SERVICE);
  return {
    async upload(count) {
      const call = service.bidi<unknown, BidiCount>(`${BIDI_SERVICE}.${uploadMethod}`, { window: s.window });
      if (uploadMethod === INGEST_METHOD) await call.send({ count } satisfies BidiCount);
      for (let n = 0; n < count; n++) await call.send(bidiItem(n));
      await call.end();
      let answer: BidiCount | undefined;
      for await (const x of call) answer = x;
      return answer?.count ?? -1;
    },
    async download(count) {
      const call = service.bidi<BidiCount, unknown>(`${BIDI_SERVICE}.${DOWNLOAD_METHOD}`, { window: s.window });
      await call.send({ count });
      await call.end();
      let seen = 0;
      for await (const _ of call) seen++;
      return seen;
    },
    close: async () => {
      await service.close();
      await infra.close();
    },
  };
}

/** `BENCH_BIDI_OURS=transport`: `AmqpTransport.bidi()` with its defaults but the window. */
async function transportCaller(s: Setting, namespace: string): Promise<Caller> {
  const transport = new AmqpTransport({ url: s.url, namespace });
  await transport.start();
  return {
    async upload(count) {
      const call = transport.bidi(BIDI_SERVICE, UPLOAD_METHOD, { window: s.window });
      for (let n = 0; n < count; n++) await call.send(bidiItem(n));
      await call.end();
      let answer: BidiCount | undefined;
      for await (const x of call) answer = x as BidiCount;
      return answer?.count ?? -1;
    },
    async download(count) {
      const call = transport.bidi(BIDI_SERVICE, DOWNLOAD_METHOD, { window: s.window });
      await call.send({ count } satisfies BidiCount);
      await call.end();
      let seen = 0;
      for await (const _ of call) seen++;
      return seen;
    },
    close: () => transport.close(),
  };
}

/** One variant's figures in one direction and round. */
interface Figures {
  itemsPerSecond: number;
  /** CPU time per item during the measured bursts, µs: hardly moved by other load. */
  callerCpuUsPerItem: number;
  serverCpuUsPerItem: number;
}
type Round = Record<Direction, Record<VariantName, Figures>>;

export async function runBidi(): Promise<SuiteReport> {
  const params: Params = {
    rounds: envInt('BENCH_ROUNDS', 3),
    bursts: envInt('BENCH_BURSTS', 10),
    items: envInt('BENCH_BIDI_ITEMS', 50_000),
    warmupItems: envInt('BENCH_BIDI_WARMUP', 5_000),
    window: envInt('BENCH_BIDI_WINDOW', 16),
    itemBytes: Buffer.byteLength(JSON.stringify(bidiItem(12_345))),
  };
  const ours = (process.env.BENCH_BIDI_OURS ?? 'sdk') as OursKind;
  if (!(ours in OURS)) throw new Error(`BENCH_BIDI_OURS must be sdk or transport, got "${ours}"`);
  VARIANTS.ours = OURS[ours];
  const withGateway = process.env.BENCH_BIDI_GATEWAY !== '0';
  const needsEtcd = ours === 'sdk' || withGateway;
  const etcd = process.env.SWITCHYARD_BENCH_ETCD || !needsEtcd ? undefined : await PrivateEtcd.start();
  const schemasDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-bidi-schemas-'));
  writeFileSync(join(schemasDir, 'count.json'), JSON.stringify(BIDI_COUNT_SCHEMA));
  writeFileSync(join(schemasDir, 'item.json'), JSON.stringify(BIDI_ITEM_SCHEMA));
  const setting: Setting = {
    url: benchAmqpUrl(),
    etcd: process.env.SWITCHYARD_BENCH_ETCD ?? etcd?.endpoint ?? '',
    schemasDir,
    window: params.window,
  };
  const rounds: Round[] = [];
  const gatewayRounds: GatewayRound[] = [];
  try {
    for (let r = 0; r < params.rounds; r++) {
      const round = await runRound(setting, params);
      rounds.push(round);
      for (const d of DIRECTIONS) {
        for (const v of ['raw', 'ours'] as const) {
          const f = round[d][v];
          console.log(
            `bidi round ${r + 1}/${params.rounds} ${d.padEnd(8)} ${v.padEnd(4)}: ${Math.round(f.itemsPerSecond)} items/s, ` +
              `CPU/item caller ${f.callerCpuUsPerItem.toFixed(1)} µs, server ${f.serverCpuUsPerItem.toFixed(1)} µs`,
          );
        }
        console.log(
          `bidi round ${r + 1}/${params.rounds} ${d} items ratio ${(round[d].ours.itemsPerSecond / round[d].raw.itemsPerSecond).toFixed(3)}`,
        );
      }
    }
    for (let r = 0; withGateway && r < params.rounds; r++) {
      const round = await runGatewayRound(setting, params);
      gatewayRounds.push(round);
      for (const d of DIRECTIONS) {
        const g = round[d];
        console.log(
          `bidi gateway round ${r + 1}/${params.rounds} ${d.padEnd(8)}: direct ${Math.round(g.direct)} items/s, ` +
            `WebSocket via gateway ${Math.round(g.gateway)} items/s (ratio ${(g.gateway / g.direct).toFixed(3)}), ` +
            `gateway CPU/item ${g.gatewayCpuUsPerItem.toFixed(1)} µs`,
        );
      }
    }
  } finally {
    await etcd?.close();
    rmSync(schemasDir, { recursive: true, force: true });
  }
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const per = (d: Direction, get: (f: Figures) => number) =>
    r3(median(rounds.map((r) => get(r[d].ours) / get(r[d].raw))));
  const ratio: Record<string, number> = {};
  for (const d of DIRECTIONS) {
    ratio[`${d}_items_ratio`] = per(d, (f) => f.itemsPerSecond);
    ratio[`${d}_caller_cpu_ratio`] = per(d, (f) => f.callerCpuUsPerItem);
    ratio[`${d}_server_cpu_ratio`] = per(d, (f) => f.serverCpuUsPerItem);
  }
  const medianFigures = (d: Direction, v: VariantName): Figures => ({
    itemsPerSecond: median(rounds.map((r) => r[d][v].itemsPerSecond)),
    callerCpuUsPerItem: median(rounds.map((r) => r[d][v].callerCpuUsPerItem)),
    serverCpuUsPerItem: median(rounds.map((r) => r[d][v].serverCpuUsPerItem)),
  });
  const figures = Object.fromEntries(
    DIRECTIONS.map((d) => [d, { raw: medianFigures(d, 'raw'), ours: medianFigures(d, 'ours') }]),
  ) as Record<Direction, Record<VariantName, Figures>>;
  printTable(
    `bidi: median of ${params.rounds} rounds; per round, direction and variant ${params.items} items of ${params.itemBytes} bytes, window ${params.window}, in ${params.bursts} interleaved bursts`,
    ['direction', 'variant', 'items/s', 'caller CPU µs/item', 'server CPU µs/item'],
    DIRECTIONS.flatMap((d) =>
      (['raw', 'ours'] as const).map((v) => {
        const f = figures[d][v];
        return [d, VARIANTS[v].label, f.itemsPerSecond, f.callerCpuUsPerItem, f.serverCpuUsPerItem];
      }),
    ),
  );
  const metBy = Object.fromEntries(DIRECTIONS.map((d) => [d, ratio[`${d}_items_ratio`]! >= TARGET])) as Record<
    Direction,
    boolean
  >;
  printTable(
    'bidi ratios (ours / raw, median over rounds)',
    ['ratio', 'value', 'target', 'met'],
    DIRECTIONS.flatMap((d) => [
      [`${d}_items_ratio`, ratio[`${d}_items_ratio`], `>= ${TARGET}`, String(metBy[d])],
      [`${d}_caller_cpu_ratio`, ratio[`${d}_caller_cpu_ratio`], '(info)', '-'],
      [`${d}_server_cpu_ratio`, ratio[`${d}_server_cpu_ratio`], '(info)', '-'],
    ]),
  );
  let gateway: Record<string, unknown> | undefined;
  if (gatewayRounds.length > 0) {
    const g = (d: Direction) => ({
      directItemsPerSecond: median(gatewayRounds.map((r) => r[d].direct)),
      gatewayItemsPerSecond: median(gatewayRounds.map((r) => r[d].gateway)),
      gatewayCpuUsPerItem: median(gatewayRounds.map((r) => r[d].gatewayCpuUsPerItem)),
      ratio: r3(median(gatewayRounds.map((r) => r[d].gateway / r[d].direct))),
    });
    const figs = { upload: g('upload'), download: g('download') };
    for (const d of DIRECTIONS) ratio[`gateway_${d}_items_ratio`] = figs[d].ratio;
    printTable(
      'bidi gateway: a ws client through the gateway (stream: websocket) vs a direct SDK caller, same server; information only',
      ['direction', 'direct SDK items/s', 'ws via gateway items/s', 'gateway CPU µs/item', 'ratio'],
      DIRECTIONS.map((d) => [
        d,
        figs[d].directItemsPerSecond,
        figs[d].gatewayItemsPerSecond,
        figs[d].gatewayCpuUsPerItem,
        figs[d].ratio,
      ]),
    );
    gateway = {
      method: 'upload uses the ingest method ({ count } first) for both callers',
      figures: figs,
      rounds: gatewayRounds,
    };
  }
  return {
    ours: VARIANTS.ours.label,
    ...(gateway ? { gateway } : {}),
    method: `${params.rounds} rounds; in each, raw and ours run side by side in ${params.bursts} interleaved bursts (order alternating), one upload and one download stream per burst and variant; ratios are medians over rounds of ours/raw`,
    params,
    figures,
    ratio,
    targets: {
      upload_items_ratio: `>= ${TARGET}`,
      download_items_ratio: `>= ${TARGET}`,
      ...(gateway ? { gateway_upload_items_ratio: '(info)', gateway_download_items_ratio: '(info)' } : {}),
    },
    met: metBy.upload && metBy.download,
    rounds,
  };
}

interface Tally {
  items: number;
  elapsedMs: number;
  callerCpu: number;
  serverCpu: number;
}

interface Side {
  name: VariantName;
  namespace: string;
  server: Fixture;
  caller: Caller;
  tally: Record<Direction, Tally>;
}

const newTally = (): Tally => ({ items: 0, elapsedMs: 0, callerCpu: 0, serverCpu: 0 });

async function runRound(s: Setting, params: Params): Promise<Round> {
  const sides: Side[] = [];
  try {
    for (const name of ['raw', 'ours'] as const) {
      // A fresh namespace and server per round: nothing carries over.
      const namespace = benchNamespace('bidi');
      const server = await startFixture(VARIANTS[name].fixture, {
        BENCH_AMQP: s.url,
        BENCH_NAMESPACE: namespace,
        BENCH_ETCD: s.etcd,
        BENCH_SCHEMAS: s.schemasDir,
      });
      const side: Partial<Side> = {
        name,
        namespace,
        server,
        tally: { upload: newTally(), download: newTally() },
      };
      sides.push(side as Side);
      side.caller = await VARIANTS[name].caller(s, namespace);
    }
    for (const side of sides) for (const d of DIRECTIONS) await expectItems(side, d, params.warmupItems);
    const perBurst = Math.max(1, Math.floor(params.items / params.bursts));
    for (let b = 0; b < params.bursts; b++) {
      for (const d of DIRECTIONS) {
        for (const side of b % 2 === 0 ? sides : [...sides].reverse()) {
          const t = side.tally[d];
          const server0 = await side.server.cpuMicros();
          const caller0 = cpuMicros();
          const t0 = nowMs();
          await expectItems(side, d, perBurst);
          t.elapsedMs += nowMs() - t0;
          t.callerCpu += cpuMicros() - caller0;
          t.serverCpu += (await side.server.cpuMicros()) - server0;
          t.items += perBurst;
        }
      }
    }
    const figuresOf = (t: Tally): Figures => ({
      itemsPerSecond: ratePerSecond(t.items, t.elapsedMs),
      callerCpuUsPerItem: t.callerCpu / t.items,
      serverCpuUsPerItem: t.serverCpu / t.items,
    });
    const round = {} as Round;
    for (const d of DIRECTIONS) round[d] = { raw: figuresOf(sides[0]!.tally[d]), ours: figuresOf(sides[1]!.tally[d]) };
    return round;
  } finally {
    for (const side of sides) {
      await side.caller?.close();
      await side.server.stop();
      await deleteTopology(
        s.url,
        [rpcQueue(side.namespace, BIDI_SERVICE)],
        [rpcExchange(side.namespace), `${side.namespace}.events`],
      );
    }
  }
}

async function expectItems(side: Side, d: Direction, count: number): Promise<void> {
  const seen = await (d === 'upload' ? side.caller.upload(count) : side.caller.download(count));
  if (seen !== count) throw new Error(`${side.name}: a ${d} stream of ${count} items delivered ${seen}`);
}

/** One gateway round: items/s of each caller, and the gateway's CPU per item. */
type GatewayRound = Record<Direction, { direct: number; gateway: number; gatewayCpuUsPerItem: number }>;

/**
 * The gateway variant (information only): one SDK server, and in front of it the gateway
 * in a process of its own; a direct SDK caller and a `ws` client through the gateway take
 * interleaved bursts against that same server. Upload is `ingest` for both (a WebSocket
 * client cannot half-close and still read the answer).
 */
async function runGatewayRound(s: Setting, params: Params): Promise<GatewayRound> {
  const namespace = benchNamespace('bidi-gw');
  const env = { BENCH_AMQP: s.url, BENCH_NAMESPACE: namespace, BENCH_ETCD: s.etcd, BENCH_SCHEMAS: s.schemasDir };
  const fixtures: Fixture[] = [];
  let direct: Caller | undefined;
  try {
    fixtures.push(await startFixture('bidi-sdk-server.ts', env));
    const port = await freePort();
    const gw = await startFixture('bidi-gateway.ts', { ...env, BENCH_GATEWAY_PORT: String(port) });
    fixtures.push(gw);
    direct = await sdkCaller(s, namespace, INGEST_METHOD);
    const ws = new WsBidiCaller(`ws://127.0.0.1:${port}`);
    type Run = { name: 'direct' | 'gateway'; caller: Pick<Caller, Direction>; tally: Record<Direction, Tally> };
    const runs: Run[] = [
      { name: 'direct', caller: direct, tally: { upload: newTally(), download: newTally() } },
      { name: 'gateway', caller: ws, tally: { upload: newTally(), download: newTally() } },
    ];
    await waitForGateway(ws);
    for (const run of runs) for (const d of DIRECTIONS) await expectCount(run.name, d, run.caller, params.warmupItems);
    const perBurst = Math.max(1, Math.floor(params.items / params.bursts));
    for (let b = 0; b < params.bursts; b++) {
      for (const d of DIRECTIONS) {
        for (const run of b % 2 === 0 ? runs : [...runs].reverse()) {
          const t = run.tally[d];
          const gw0 = await gw.cpuMicros();
          const t0 = nowMs();
          await expectCount(run.name, d, run.caller, perBurst);
          t.elapsedMs += nowMs() - t0;
          t.serverCpu += (await gw.cpuMicros()) - gw0; // the gateway's, here
          t.items += perBurst;
        }
      }
    }
    const round = {} as GatewayRound;
    for (const d of DIRECTIONS) {
      const [dt, gt] = [runs[0]!.tally[d], runs[1]!.tally[d]];
      round[d] = {
        direct: ratePerSecond(dt.items, dt.elapsedMs),
        gateway: ratePerSecond(gt.items, gt.elapsedMs),
        gatewayCpuUsPerItem: gt.serverCpu / gt.items,
      };
    }
    return round;
  } finally {
    await direct?.close();
    for (const f of fixtures.reverse()) await f.stop();
    await deleteTopology(s.url, [rpcQueue(namespace, BIDI_SERVICE)], [rpcExchange(namespace), `${namespace}.events`]);
  }
}

async function expectCount(name: string, d: Direction, caller: Pick<Caller, Direction>, count: number): Promise<void> {
  const seen = await caller[d](count);
  if (seen !== count) throw new Error(`${name}: a ${d} stream of ${count} items delivered ${seen}`);
}

/** The gateway answers 503 until its registry view has the server: try until it does (20 s at most). */
async function waitForGateway(ws: WsBidiCaller): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    try {
      await ws.download(1);
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
