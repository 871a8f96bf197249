/**
 * What the transport costs over raw amqplib speaking the same wire protocol on the same
 * RabbitMQ: RPC calls/s at concurrency 64 and p50 at concurrency 1, and confirmed
 * events/s. Rounds alternate raw and ours; each side's best round counts (background
 * noise only ever slows a round down). Prints the figures; asserts only generous bounds,
 * since this runs on a shared 2-core machine beside other tests. `npm run bench` is the
 * careful measurement.
 */
import { AmqpTransport } from '@switchyard/broker';
import amqplib, { type ConsumeMessage } from 'amqplib';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { deleteNamespaces } from '../fixtures/amqp-broker.js';
import { uniqueNamespace } from '../harness/servers.js';

const url = inject('amqpUrl');
const namespace = uniqueNamespace('amqp-perf');
const CONCURRENCY = 64;
const CALLS = 10_000;
const SEQUENTIAL = 1000;
const EVENTS = 10_000;
const ROUNDS = 3;

afterAll(async () => {
  await deleteNamespaces(url, [namespace]);
}, 60_000);

interface Figures {
  perSecond: number;
  p50: number;
}

/** Run `op` `total` times from `concurrency` loops. */
async function measure(total: number, op: () => Promise<unknown>, concurrency: number): Promise<Figures> {
  const latencies = new Float64Array(total);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await op();
        latencies[i] = performance.now() - s;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort();
  return { perSecond: Math.round(total / seconds), p50: latencies[Math.floor(total / 2)]! };
}

interface RpcFigures {
  throughput: Figures;
  sequential: Figures;
}

async function rpcRound(call: () => Promise<unknown>): Promise<RpcFigures> {
  await measure(1000, call, CONCURRENCY); // warm up
  const throughput = await measure(CALLS, call, CONCURRENCY);
  const sequential = await measure(SEQUENTIAL, call, 1);
  return { throughput, sequential };
}

/** The protocol (docs/protocol.md §4) by hand with amqplib, as a careful raw client would. */
async function rawRpc(): Promise<RpcFigures> {
  const serverConn = await amqplib.connect(url, { noDelay: true });
  const clientConn = await amqplib.connect(url, { noDelay: true });
  try {
    const exchange = `${namespace}.rpc`;
    const queue = `${namespace}.rpc.raw`;
    const sch = await serverConn.createChannel();
    await sch.assertExchange(exchange, 'direct', { durable: true });
    await sch.assertQueue(queue, { durable: true, autoDelete: true });
    await sch.bindQueue(queue, exchange, 'raw');
    await sch.prefetch(100);
    await sch.consume(queue, (msg) => {
      if (!msg) return;
      const body = Buffer.from(JSON.stringify(JSON.parse(msg.content.toString())));
      sch.publish('', msg.properties.replyTo, body, {
        correlationId: msg.properties.correlationId,
        contentType: 'application/json',
        headers: { 'x-status': 'ok' },
      });
      sch.ack(msg);
    });
    const cch = await clientConn.createChannel();
    const pending = new Map<string, (m: ConsumeMessage) => void>();
    await cch.consume(
      'amq.rabbitmq.reply-to',
      (m) => {
        if (!m) return;
        const r = pending.get(m.properties.correlationId);
        pending.delete(m.properties.correlationId);
        r?.(m);
      },
      { noAck: true },
    );
    let id = 0;
    const call = () =>
      new Promise<unknown>((resolve) => {
        const correlationId = String(++id);
        pending.set(correlationId, (m) => resolve(JSON.parse(m.content.toString())));
        cch.publish(exchange, 'raw', Buffer.from(JSON.stringify({ n: id })), {
          mandatory: true,
          replyTo: 'amq.rabbitmq.reply-to',
          correlationId,
          contentType: 'application/json',
          expiration: '30000',
          headers: { 'x-method': 'echo', 'x-deadline': String(Date.now() + 30_000) },
        });
      });
    return await rpcRound(call);
  } finally {
    await Promise.all([serverConn.close(), clientConn.close()]);
  }
}

async function transportRpc(): Promise<RpcFigures> {
  const server = new AmqpTransport({ url, namespace });
  const client = new AmqpTransport({ url, namespace });
  await Promise.all([server.start(), client.start()]);
  try {
    await server.serve('perf', { echo: { handler: (req) => req.payload } });
    let n = 0;
    return await rpcRound(() => client.call('perf', 'echo', { n: ++n }));
  } finally {
    await Promise.all([server.close(), client.close()]);
  }
}

/** Persistent, mandatory publishes on a confirm channel into a durable quorum group queue. */
async function rawEvents(): Promise<Figures> {
  const conn = await amqplib.connect(url, { noDelay: true });
  try {
    const ch = await conn.createConfirmChannel();
    const exchange = `${namespace}.events`;
    await ch.assertExchange(exchange, 'topic', { durable: true });
    const { queue } = await ch.assertQueue(`${namespace}.raw-events`, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
    await ch.bindQueue(queue, exchange, 'raw.#');
    let n = 0;
    const publish = () =>
      new Promise<void>((resolve, reject) => {
        ch.publish(
          exchange,
          'raw.event',
          Buffer.from(JSON.stringify({ n: ++n })),
          { persistent: true, mandatory: true, messageId: String(n), contentType: 'application/json' },
          (err) => (err ? reject(err) : resolve()),
        );
      });
    await measure(1000, publish, CONCURRENCY);
    const figures = await measure(EVENTS, publish, CONCURRENCY);
    await ch.deleteQueue(queue);
    return figures;
  } finally {
    await conn.close();
  }
}

async function transportEvents(): Promise<Figures> {
  const t = new AmqpTransport({ url, namespace });
  await t.start();
  try {
    // A quorum group queue so the events are routable; nobody consumes it (as in the raw case).
    const sub = await t.subscribe('perf.#', () => {}, { group: 'sink' });
    await sub.close();
    let n = 0;
    const publish = () => t.publish('perf.event', { n: ++n });
    await measure(1000, publish, CONCURRENCY);
    const figures = await measure(EVENTS, publish, CONCURRENCY);
    const conn = await amqplib.connect(url);
    await (await conn.createChannel()).purgeQueue(sub.deadLetterQueue.replace(/\.dlq$/, ''));
    await conn.close();
    return figures;
  } finally {
    await t.close();
  }
}

const best = (figures: Figures[]): Figures => ({
  perSecond: Math.max(...figures.map((f) => f.perSecond)),
  p50: Math.min(...figures.map((f) => f.p50)),
});

describe('throughput against raw amqplib', () => {
  it('RPC and confirmed events come close to raw amqplib on the same protocol', async () => {
    const raw: RpcFigures[] = [];
    const ours: RpcFigures[] = [];
    const rawEv: Figures[] = [];
    const ourEv: Figures[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      raw.push(await rawRpc());
      ours.push(await transportRpc());
      rawEv.push(await rawEvents());
      ourEv.push(await transportEvents());
    }
    const r = { c64: best(raw.map((x) => x.throughput)), c1: best(raw.map((x) => x.sequential)) };
    const o = { c64: best(ours.map((x) => x.throughput)), c1: best(ours.map((x) => x.sequential)) };
    const re = best(rawEv);
    const oe = best(ourEv);
    const throughputRatio = o.c64.perSecond / r.c64.perSecond;
    const p50Ratio = o.c1.p50 / r.c1.p50;
    console.log(
      `[amqp] RPC (best of ${ROUNDS}): raw amqplib ${r.c64.perSecond} calls/s at c=${CONCURRENCY}, p50 ${r.c1.p50.toFixed(3)} ms at c=1; ` +
        `AmqpTransport ${o.c64.perSecond} calls/s, p50 ${o.c1.p50.toFixed(3)} ms ` +
        `(${throughputRatio.toFixed(2)}x calls/s, ${p50Ratio.toFixed(2)}x p50)`,
    );
    console.log(
      `[amqp] events (best of ${ROUNDS}, c=${CONCURRENCY}): raw confirm channel ${re.perSecond}/s; ` +
        `AmqpTransport.publish ${oe.perSecond}/s (${(oe.perSecond / re.perSecond).toFixed(2)}x)`,
    );
    // Generous: the targets are >= 0.9x calls/s and <= 1.2x p50; a loaded machine must not fail the suite.
    expect(throughputRatio).toBeGreaterThan(0.5);
    expect(p50Ratio).toBeLessThan(2.5);
    expect(oe.perSecond / re.perSecond).toBeGreaterThan(0.5);
  }, 300_000);
});
