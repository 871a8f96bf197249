/**
 * Events suite: persistent events published on a confirm channel into a durable group
 * queue, consumed with manual acks; the figure is end-to-end delivered events per second
 * (first publish to last ack). Baseline: raw amqplib. Ours: AmqpTransport publish/subscribe.
 * Classic and quorum queues. Rounds alternate raw, ours, ...; each figure is the best round.
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
import { nowMs, pairedMedianRatio, ratePerSecond, ratio } from './lib/stats.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';
import { windowed } from './lib/window.js';

type VariantName = 'raw' | 'ours';
const VARIANTS: Record<VariantName, (url: string, ns: string, type: QueueType) => Promise<EventsHarness>> = {
  raw: rawEventsHarness,
  ours: oursEventsHarness,
};
const QUEUE_TYPES: QueueType[] = ['classic', 'quorum'];
/** Give up on a round whose events stop arriving, rather than hang the run. */
const ROUND_TIMEOUT_MS = 120_000;

interface Round {
  variant: VariantName;
  queueType: QueueType;
  events: number;
  publishedPerSecond: number;
  deliveredPerSecond: number;
  /** CPU time of this process (publisher + subscriber) per event, µs: insensitive to other load. */
  cpuUsPerEvent: number;
}

export async function runEvents(): Promise<SuiteReport> {
  const url = benchAmqpUrl();
  const params = {
    rounds: envInt('BENCH_ROUNDS', 5),
    events: envInt('BENCH_EVENTS', 20_000),
    warmupEvents: envInt('BENCH_EVENTS_WARMUP', 1_000),
    publishWindow: envInt('BENCH_PUBLISH_WINDOW', 500),
    payloadBytes: Buffer.byteLength(JSON.stringify(PAYLOAD)),
  };
  const rounds: Round[] = [];
  for (const queueType of QUEUE_TYPES) {
    for (let r = 0; r < params.rounds; r++) {
      for (const variant of Object.keys(VARIANTS) as VariantName[]) {
        const round = await runRound(variant, queueType, url, params);
        rounds.push(round);
        console.log(
          `events ${queueType} round ${r + 1}/${params.rounds} ${variant}: ` +
            `${Math.round(round.deliveredPerSecond)} delivered/s, ${Math.round(round.publishedPerSecond)} confirmed/s, ` +
            `CPU ${round.cpuUsPerEvent.toFixed(1)} µs/event`,
        );
      }
    }
  }
  const best = (variant: VariantName, queueType: QueueType) => {
    const mine = rounds.filter((x) => x.variant === variant && x.queueType === queueType);
    return {
      deliveredPerSecond: Math.max(...mine.map((x) => x.deliveredPerSecond)),
      publishedPerSecond: Math.max(...mine.map((x) => x.publishedPerSecond)),
      cpuUsPerEvent: Math.min(...mine.map((x) => x.cpuUsPerEvent)),
    };
  };
  const figures: Record<string, Record<VariantName, ReturnType<typeof best>>> = {};
  const ratios: Record<string, number> = {};
  for (const t of QUEUE_TYPES) {
    figures[t] = { raw: best('raw', t), ours: best('ours', t) };
    ratios[`${t}_delivered_ratio`] = ratio(figures[t].ours.deliveredPerSecond, figures[t].raw.deliveredPerSecond);
  }
  const noise: Record<string, number> = {};
  for (const t of QUEUE_TYPES) {
    noise[`${t}_cpu_ratio`] = ratio(figures[t]!.ours.cpuUsPerEvent, figures[t]!.raw.cpuUsPerEvent);
    const of = (v: VariantName) => rounds.filter((x) => x.variant === v && x.queueType === t);
    noise[`${t}_paired_median_delivered_ratio`] = pairedMedianRatio(of('raw'), of('ours'), (x) => x.deliveredPerSecond);
  }
  printTable(
    `events: best of ${params.rounds} alternating rounds, ${params.events} persistent events each, publish window ${params.publishWindow}`,
    ['queue', 'variant', 'delivered/s', 'confirmed/s', 'CPU µs/event'],
    QUEUE_TYPES.flatMap((t) =>
      (['raw', 'ours'] as const).map((v) => [
        t,
        v === 'raw' ? 'raw amqplib' : 'AmqpTransport',
        figures[t]![v].deliveredPerSecond,
        figures[t]![v].publishedPerSecond,
        figures[t]![v].cpuUsPerEvent,
      ]),
    ),
  );
  printTable(
    'events ratios (ours / raw, delivered/s)',
    ['ratio', 'value', 'target', 'met'],
    [
      ...Object.entries(ratios).map(([k, v]) => [k, v, '>= 0.9', String(v >= 0.9)]),
      ...Object.entries(noise).map(([k, v]) => [k, v, k.includes('cpu') ? '(info)' : '(noise check)', '-']),
    ],
  );
  return {
    method: `best of ${params.rounds} rounds per queue type, alternating raw then ours each round`,
    params,
    figures,
    ratio: { ...ratios, ...noise },
    targets: Object.fromEntries(Object.keys(ratios).map((k) => [k, '>= 0.9'])),
    met: Object.values(ratios).every((v) => v >= 0.9),
    rounds,
  };
}

async function runRound(
  variant: VariantName,
  queueType: QueueType,
  url: string,
  params: { events: number; warmupEvents: number; publishWindow: number },
): Promise<Round> {
  const ns = benchNamespace('events');
  let harness: EventsHarness | undefined;
  try {
    harness = await VARIANTS[variant](url, ns, queueType);
    const h = harness;
    const pass = async (count: number) => {
      let delivered = 0;
      const allDelivered = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${variant}/${queueType}: ${delivered}/${count} events after ${ROUND_TIMEOUT_MS} ms`)),
          ROUND_TIMEOUT_MS,
        );
        h.onEvent(() => {
          if (++delivered === count) {
            clearTimeout(timer);
            resolve(nowMs());
          }
        });
      });
      const cpu0 = cpuMicros();
      const t0 = nowMs();
      await windowed(count, params.publishWindow, () => h.publish(PAYLOAD));
      const tConfirmed = nowMs();
      const tDelivered = await allDelivered;
      return {
        publishedPerSecond: ratePerSecond(count, tConfirmed - t0),
        deliveredPerSecond: ratePerSecond(count, tDelivered - t0),
        cpuUsPerEvent: (cpuMicros() - cpu0) / count,
      };
    };
    await pass(params.warmupEvents);
    const measured = await pass(params.events);
    return { variant, queueType, events: params.events, ...measured };
  } finally {
    await harness?.close();
    const q = groupQueue(ns);
    // AmqpTransport declares a delay queue per retry of the default policy at subscribe time.
    const delays = retryDelaysMs(DEFAULT_RETRY_POLICY).map((ms) => `${ns}.delay.${ms}`);
    await deleteTopology(url, [q, `${q}.dlq`, ...delays], [eventsExchange(ns), `${ns}.rpc`, ...delays]);
  }
}

/** The delays (protocol §3) a subscriber with `policy` may wait between attempts. */
function retryDelaysMs(policy: RetryPolicy): number[] {
  const out = new Set<number>();
  for (let attempt = 1; attempt < policy.attempts; attempt++) {
    out.add(Math.min(policy.initialDelayMs * policy.factor ** (attempt - 1), policy.maxDelayMs));
  }
  return [...out];
}
