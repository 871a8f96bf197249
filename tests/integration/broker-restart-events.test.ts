/**
 * Events across a broker restart, on a private RabbitMQ node of this file's own (one node
 * for the whole file: it takes seconds to start). The node is stopped cleanly, and killed
 * with SIGKILL, while 20,000 persistent events are being published:
 *
 * - every event whose publish was confirmed is handled, exactly once after de-duplication
 *   by event id (it may be delivered twice: at-least-once);
 * - a publish that was not confirmed fails with a code (never a silent loss or a hang);
 * - the publisher's buffer of unconfirmed publishes is re-sent, and its bound holds:
 *   publishes beyond it fail BUFFER_FULL at once;
 * - subscribers resume on the same transport, and a quorum group queue whose consumer was
 *   away keeps everything published meanwhile, across the restart.
 *
 * No timing assertions: only deadlines (the test timeouts and `until`).
 */
import {
  AmqpTransport,
  type IncomingEvent,
  isSwitchyardError,
  type Subscription,
  type SwitchyardError,
} from '@switchyard/broker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRabbit } from '../harness/private-rabbit.js';

let rabbit: PrivateRabbit;
const transports: AmqpTransport[] = [];
const namespace = 'restart-events';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What each producer's publisher had to send again after a drop (from its warning log), by name. */
const resent = new Map<string, number>();
function producerLogger(name: string) {
  const noop = () => {};
  return {
    debug: noop,
    info: noop,
    error: noop,
    warn(obj: object, msg?: string) {
      const unconfirmed = (obj as { unconfirmed?: number }).unconfirmed;
      if (msg?.includes('re-send') && unconfirmed !== undefined)
        resent.set(name, (resent.get(name) ?? 0) + unconfirmed);
    },
  };
}

/** Every group queue of this file: `[topic, group]`. */
const QUEUES = [
  ['restart.stop', 'live'],
  ['restart.stop', 'away'],
  ['restart.kill', 'live'],
  ['restart.buffer', 'live'],
] as const;

beforeAll(async () => {
  rabbit = await PrivateRabbit.start();
  console.log(`[restart] private RabbitMQ node ${rabbit.nodeName} accepted AMQP after ${rabbit.startedInMs} ms`);
  // RabbitMQ 3.10 loses the messages of a quorum queue declared since the node's last
  // clean start when the node is SIGKILLed (docs/deployment.md, "Broker restarts"). A
  // production queue is long-lived; so are these: declared, then one clean restart.
  const setup = new AmqpTransport({ url: rabbit.amqpUrl, namespace });
  await setup.start();
  for (const [topic, group] of QUEUES) await (await setup.subscribe(topic, () => {}, { group })).close();
  await setup.close();
  await rabbit.stop();
  await rabbit.resume();
  console.log(`[restart] clean restart of the private node: started again in ${rabbit.startedInMs} ms`);
}, 120_000);

afterAll(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await rabbit?.close();
}, 60_000);

async function transport(name: string, extra: { publishBufferSize?: number } = {}): Promise<AmqpTransport> {
  const t = new AmqpTransport({
    url: rabbit.amqpUrl,
    namespace,
    connectionName: `${namespace}/${name}`,
    logger: producerLogger(name),
    // The node is away for seconds: publishes wait for it rather than time out.
    publishTimeoutMs: 60_000,
    ...extra,
  });
  transports.push(t);
  await t.start();
  return t;
}

async function until(probe: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await sleep(50);
  }
}

/** A subscriber that de-duplicates by event id, as the docs tell subscribers to. */
class Deduplicating {
  readonly handled = new Set<string>();
  deliveries = 0;
  readonly handler = (e: IncomingEvent): void => {
    this.deliveries++;
    if (this.handled.has(e.id)) return; // a redelivery: acked, not handled again
    this.handled.add(e.id);
  };
  missing(ids: readonly string[]): string[] {
    return ids.filter((id) => !this.handled.has(id));
  }
}

interface Run {
  confirmed: string[];
  failures: unknown[];
  confirmedAtOutage: number;
}

/**
 * Publish `total` persistent events from `concurrency` publishers; once `outageAt` are
 * confirmed, run `outage` (the node goes away and comes back) while publishing goes on.
 */
async function publishThrough(
  producer: AmqpTransport,
  topic: string,
  prefix: string,
  total: number,
  outageAt: number,
  outage: () => Promise<void>,
): Promise<Run> {
  const run: Run = { confirmed: [], failures: [], confirmedAtOutage: -1 };
  let next = 0;
  let outageDone: Promise<void> | undefined;
  const worker = async () => {
    while (next < total) {
      const id = `${prefix}-${next++}`;
      try {
        await producer.publish(topic, { id }, { messageId: id });
        run.confirmed.push(id);
      } catch (err) {
        run.failures.push(err);
      }
      if (!outageDone && run.confirmed.length >= outageAt) {
        run.confirmedAtOutage = run.confirmed.length;
        outageDone = outage();
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  await outageDone;
  return run;
}

function codes(failures: readonly unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of failures) {
    const code = isSwitchyardError(f) ? f.code : `untyped: ${(f as Error)?.message}`;
    out[code] = (out[code] ?? 0) + 1;
  }
  return out;
}

describe('a clean stop and start of RabbitMQ while 20,000 events are published', () => {
  it('handles every confirmed event once; a quorum group whose consumer was away keeps them all', async () => {
    const topic = 'restart.stop';
    const consumer = await transport('stop-consumer');
    const live = new Deduplicating();
    await consumer.subscribe(topic, live.handler, { group: 'live' });
    // A group whose consumer is away during the whole run: its quorum queue must keep what
    // was published meanwhile, across the restart.
    const away = new Deduplicating();
    const awaySub: Subscription = await consumer.subscribe(topic, away.handler, { group: 'away' });
    await awaySub.close();
    const producer = await transport('stop-producer');
    const states: string[] = [];
    consumer.on('state', (s) => states.push(`consumer:${s}`));
    producer.on('state', (s) => states.push(`producer:${s}`));

    const total = 20_000;
    let stopMs = 0;
    const run = await publishThrough(producer, topic, 'stop', total, 4_000, async () => {
      const t0 = Date.now();
      await rabbit.stop();
      stopMs = Date.now() - t0;
      await rabbit.resume();
    });
    console.log(
      `[restart] clean stop at ${run.confirmedAtOutage} confirmed (stop ${stopMs} ms, start ${rabbit.startedInMs} ms): ` +
        `${run.confirmed.length} confirmed, failures ${JSON.stringify(codes(run.failures))}, ` +
        `${resent.get('stop-producer') ?? 0} unconfirmed re-sent`,
    );
    // Every publish settled, and every failure carries a code.
    expect(run.confirmed.length + run.failures.length).toBe(total);
    expect(run.failures.every((f) => isSwitchyardError(f))).toBe(true);
    expect(run.confirmedAtOutage).toBeGreaterThan(0);
    expect(run.confirmedAtOutage).toBeLessThan(total);
    // Publishes were in flight at the drop: the publisher sent them again.
    expect(resent.get('stop-producer')).toBeGreaterThan(0);

    await until(
      () => live.missing(run.confirmed).length === 0,
      45_000,
      () => `${live.missing(run.confirmed).length} confirmed events at the live subscriber`,
    );
    // The same subscription, on the same transport, resumed after the restart.
    expect(states).toContain('consumer:disconnected');
    expect(consumer.state).toBe('connected');

    await consumer.subscribe(topic, away.handler, { group: 'away' });
    await until(
      () => away.missing(run.confirmed).length === 0,
      45_000,
      () => `${away.missing(run.confirmed).length} confirmed events in the away group's queue`,
    );
    console.log(
      `[restart] clean stop: live group ${live.handled.size} distinct events in ${live.deliveries} deliveries, ` +
        `away group ${away.handled.size} in ${away.deliveries}`,
    );
  }, 150_000);
});

describe('RabbitMQ killed with SIGKILL while 20,000 events are published', () => {
  it('handles every confirmed event once after the node comes back', async () => {
    const topic = 'restart.kill';
    const consumer = await transport('kill-consumer');
    const live = new Deduplicating();
    await consumer.subscribe(topic, live.handler, { group: 'live' });
    const producer = await transport('kill-producer');

    const total = 20_000;
    const run = await publishThrough(producer, topic, 'kill', total, 4_000, async () => {
      await rabbit.kill();
      // Long enough for the publishers to notice and queue up behind the dead connection.
      await sleep(500);
      await rabbit.resume();
    });
    console.log(
      `[restart] SIGKILL at ${run.confirmedAtOutage} confirmed (start ${rabbit.startedInMs} ms): ` +
        `${run.confirmed.length} confirmed, failures ${JSON.stringify(codes(run.failures))}, ` +
        `${resent.get('kill-producer') ?? 0} unconfirmed re-sent`,
    );
    expect(run.confirmed.length + run.failures.length).toBe(total);
    expect(run.failures.every((f) => isSwitchyardError(f))).toBe(true);
    expect(run.confirmedAtOutage).toBeLessThan(total);
    expect(resent.get('kill-producer')).toBeGreaterThan(0);

    await until(
      () => live.missing(run.confirmed).length === 0,
      45_000,
      () => `${live.missing(run.confirmed).length} confirmed events at the subscriber`,
    );
    console.log(`[restart] SIGKILL: ${live.handled.size} distinct events in ${live.deliveries} deliveries`);
  }, 150_000);
});

describe('the publish buffer while RabbitMQ is down', () => {
  it('keeps publishBufferSize publishes for the node, refuses the rest with BUFFER_FULL, then delivers the kept ones', async () => {
    const topic = 'restart.buffer';
    const consumer = await transport('buffer-consumer');
    const live = new Deduplicating();
    await consumer.subscribe(topic, live.handler, { group: 'live' });
    const bound = 200;
    const producer = await transport('buffer-producer', { publishBufferSize: bound });
    await rabbit.kill();
    await until(
      () => producer.state === 'disconnected',
      10_000,
      () => 'the producer to see the node gone',
    );

    const outcomes = Array.from({ length: bound + 100 }, (_, i) =>
      producer.publish(topic, { i }, { messageId: `buffer-${i}` }).then(
        () => ({ id: `buffer-${i}`, err: undefined }),
        (err: SwitchyardError) => ({ id: `buffer-${i}`, err }),
      ),
    );
    // Beyond the bound the refusal is immediate, while the node is still down.
    const refused = await Promise.all(outcomes.slice(bound));
    expect(refused.map((o) => o.err?.code)).toEqual(Array(100).fill('BUFFER_FULL'));
    expect(refused[0]!.err!.message).toMatch(/publishBufferSize/);
    expect(refused[0]!.err!.details).toEqual({ publishBufferSize: bound });

    await rabbit.resume();
    const kept = await Promise.all(outcomes.slice(0, bound));
    expect(kept.filter((o) => o.err !== undefined).map((o) => o.err!.code)).toEqual([]);
    const ids = kept.map((o) => o.id);
    await until(
      () => live.missing(ids).length === 0,
      30_000,
      () => `${live.missing(ids).length} buffered events at the subscriber`,
    );
    expect(live.handled.size).toBe(bound);
  }, 90_000);
});
