/**
 * Events suite: persistent events published on a confirm channel into a durable group
 * queue, consumed with manual acks; the figure is end-to-end delivered events per second
 * (first publish to last ack). Baseline: raw amqplib. Ours: AmqpTransport publish/subscribe.
 * Classic and quorum queues.
 *
 * Both variants are up at once (each on its own namespace and queue) and measured in short
 * interleaved bursts — raw, ours, ours, raw, ... — so background load on the machine falls
 * on both alike. Each round yields ours/raw ratios; the suite reports the median over rounds.
 */
import { DEFAULT_RETRY_POLICY, type QueueType, type RetryPolicy } from '@switchyard/broker';
import { deleteTopology } from './lib/cleanup.js';
import { benchAmqpUrl, benchNamespace, envInt } from './lib/config.js';
import type { EventsHarness } from './lib/events-harness.js';
import { eventsExchange, groupQueue } from './lib/events-topology.js';
import { cpuMicros } from './lib/fixture-process.js';
import { oursEventsHarness } from './lib/ours-events.js';
import { PAYLOAD } from './lib/payload.js';
import { rawEventsHarness } from './lib/raw-events.js';
import { median, nowMs, ratePerSecond } from './lib/stats.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';
import { windowed } from './lib/window.js';

type VariantName = 'raw' | 'ours';
const VARIANTS: Record<VariantName, (url: string, ns: string, type: QueueType) => Promise<EventsHarness>> = {
  raw: rawEventsHarness,
  ours: oursEventsHarness,
};
const QUEUE_TYPES: QueueType[] = ['classic', 'quorum'];
/** Give up on a burst whose events stop arriving, rather than hang the run. */
const BURST_TIMEOUT_MS = 60_000;

type Params = {
  rounds: number;
  bursts: number;
  events: number;
  warmupEvents: number;
  publishWindow: number;
  payloadBytes: number;
};

/** One variant's figures in one round. */
interface Figures {
  deliveredPerSecond: number;
  confirmedPerSecond: number;
  /** CPU time of the bench process (publisher + subscriber) per event, µs: hardly moved by other load. */
  cpuUsPerEvent: number;
}

type Round = { queueType: QueueType } & Record<VariantName, Figures>;

export async function runEvents(): Promise<SuiteReport> {
  const url = benchAmqpUrl();
  const params: Params = {
    rounds: envInt('BENCH_ROUNDS', 3),
    bursts: envInt('BENCH_BURSTS', 10),
    events: envInt('BENCH_EVENTS', 20_000),
    warmupEvents: envInt('BENCH_EVENTS_WARMUP', 1_000),
    publishWindow: envInt('BENCH_PUBLISH_WINDOW', 500),
    payloadBytes: Buffer.byteLength(JSON.stringify(PAYLOAD)),
  };
  const rounds: Round[] = [];
  for (const queueType of QUEUE_TYPES) {
    for (let r = 0; r < params.rounds; r++) {
      const round = await runRound(queueType, url, params);
      rounds.push(round);
      for (const v of ['raw', 'ours'] as const) {
        const f = round[v];
        console.log(
          `events ${queueType} round ${r + 1}/${params.rounds} ${v.padEnd(4)}: ${Math.round(f.deliveredPerSecond)} delivered/s, ` +
            `${Math.round(f.confirmedPerSecond)} confirmed/s, CPU ${f.cpuUsPerEvent.toFixed(1)} µs/event`,
        );
      }
    }
  }
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const figures: Record<string, Record<VariantName, Figures>> = {};
  const ratios: Record<string, number> = {};
  const info: Record<string, number> = {};
  for (const t of QUEUE_TYPES) {
    const mine = rounds.filter((r) => r.queueType === t);
    const per = (get: (f: Figures) => number) => r3(median(mine.map((r) => get(r.ours) / get(r.raw))));
    const med = (v: VariantName): Figures => ({
      deliveredPerSecond: median(mine.map((r) => r[v].deliveredPerSecond)),
      confirmedPerSecond: median(mine.map((r) => r[v].confirmedPerSecond)),
      cpuUsPerEvent: median(mine.map((r) => r[v].cpuUsPerEvent)),
    });
    figures[t] = { raw: med('raw'), ours: med('ours') };
    ratios[`${t}_delivered_ratio`] = per((f) => f.deliveredPerSecond);
    info[`${t}_confirmed_ratio`] = per((f) => f.confirmedPerSecond);
    info[`${t}_cpu_ratio`] = per((f) => f.cpuUsPerEvent);
  }
  printTable(
    `events: median of ${params.rounds} rounds; per round and variant ${params.events} persistent events in ${params.bursts} interleaved bursts, publish window ${params.publishWindow}`,
    ['queue', 'variant', 'delivered/s', 'confirmed/s', 'CPU µs/event'],
    QUEUE_TYPES.flatMap((t) =>
      (['raw', 'ours'] as const).map((v) => {
        const f = figures[t]![v];
        return [
          t,
          v === 'raw' ? 'raw amqplib' : 'AmqpTransport',
          f.deliveredPerSecond,
          f.confirmedPerSecond,
          f.cpuUsPerEvent,
        ];
      }),
    ),
  );
  printTable(
    'events ratios (ours / raw, median over rounds)',
    ['ratio', 'value', 'target', 'met'],
    [
      ...Object.entries(ratios).map(([k, v]) => [k, v, '>= 0.9', String(v >= 0.9)]),
      ...Object.entries(info).map(([k, v]) => [k, v, '(info)', '-']),
    ],
  );
  return {
    method: `${params.rounds} rounds per queue type; in each, raw and ours run side by side in ${params.bursts} interleaved bursts (order alternating); ratios are medians over rounds of ours/raw`,
    params,
    figures,
    ratio: { ...ratios, ...info },
    targets: Object.fromEntries(Object.keys(ratios).map((k) => [k, '>= 0.9'])),
    met: Object.values(ratios).every((v) => v >= 0.9),
    rounds,
  };
}

interface Side {
  name: VariantName;
  ns: string;
  harness: EventsHarness;
  events: number;
  deliverMs: number;
  confirmMs: number;
  cpu: number;
}

async function runRound(queueType: QueueType, url: string, params: Params): Promise<Round> {
  const sides: Side[] = [];
  try {
    for (const name of ['raw', 'ours'] as const) {
      const ns = benchNamespace('events');
      const side: Partial<Side> = { name, ns, events: 0, deliverMs: 0, confirmMs: 0, cpu: 0 };
      sides.push(side as Side);
      side.harness = await VARIANTS[name](url, ns, queueType);
    }
    for (const s of sides) await burst(s, params.warmupEvents, params.publishWindow);
    const perBurst = Math.max(1, Math.floor(params.events / params.bursts));
    for (let b = 0; b < params.bursts; b++) {
      for (const s of b % 2 === 0 ? sides : [...sides].reverse()) {
        const cpu0 = cpuMicros();
        const t = await burst(s, perBurst, params.publishWindow);
        s.cpu += cpuMicros() - cpu0;
        s.events += perBurst;
        s.confirmMs += t.confirmMs;
        s.deliverMs += t.deliverMs;
      }
    }
    const figuresOf = (s: Side): Figures => ({
      deliveredPerSecond: ratePerSecond(s.events, s.deliverMs),
      confirmedPerSecond: ratePerSecond(s.events, s.confirmMs),
      cpuUsPerEvent: s.cpu / s.events,
    });
    return { queueType, raw: figuresOf(sides[0]!), ours: figuresOf(sides[1]!) };
  } finally {
    for (const s of sides) {
      await s.harness?.close();
      const q = groupQueue(s.ns);
      // AmqpTransport declares a delay queue per retry of the default policy at subscribe time.
      const delays = retryDelaysMs(DEFAULT_RETRY_POLICY).map((ms) => `${s.ns}.delay.${ms}`);
      await deleteTopology(url, [q, `${q}.dlq`, ...delays], [eventsExchange(s.ns), `${s.ns}.rpc`, ...delays]);
    }
  }
}

/** Publish `count` events and wait until the subscriber acked them all. */
async function burst(s: Side, count: number, window: number): Promise<{ confirmMs: number; deliverMs: number }> {
  const h = s.harness;
  let delivered = 0;
  const allDelivered = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${s.name}: ${delivered}/${count} events after ${BURST_TIMEOUT_MS} ms`)),
      BURST_TIMEOUT_MS,
    );
    h.onEvent(() => {
      if (++delivered === count) {
        clearTimeout(timer);
        resolve(nowMs());
      }
    });
  });
  const t0 = nowMs();
  await windowed(count, window, () => h.publish(PAYLOAD));
  const tConfirmed = nowMs();
  const tDelivered = await allDelivered;
  return { confirmMs: tConfirmed - t0, deliverMs: tDelivered - t0 };
}

/** The delays (protocol §3) a subscriber with `policy` may wait between attempts. */
function retryDelaysMs(policy: RetryPolicy): number[] {
  const out = new Set<number>();
  for (let attempt = 1; attempt < policy.attempts; attempt++) {
    out.add(Math.min(policy.initialDelayMs * policy.factor ** (attempt - 1), policy.maxDelayMs));
  }
  return [...out];
}
