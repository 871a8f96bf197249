/**
 * Retry and dead-letter on RabbitMQ: a poison event is retried through the delay queues
 * and then dead-lettered with headers saying why, while the events behind it keep
 * flowing; an undecodable event goes to the dead-letter queue at once.
 */
import { AmqpTransport, type IncomingEvent } from '@switchyard/broker';
import amqplib from 'amqplib';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { deleteNamespaces, drainQueue, type RawMessage } from '../fixtures/amqp-broker.js';
import { uniqueNamespace } from '../harness/servers.js';

const url = inject('amqpUrl');
const namespace = uniqueNamespace('amqp-dlq');
const transports: AmqpTransport[] = [];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

afterAll(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await deleteNamespaces(url, [namespace]);
}, 60_000);

async function transport(): Promise<AmqpTransport> {
  const t = new AmqpTransport({ url, namespace });
  transports.push(t);
  await t.start();
  return t;
}

async function waitForDeadLetters(queue: string, count: number, timeoutMs = 10_000): Promise<RawMessage[]> {
  const seen: RawMessage[] = [];
  const until = Date.now() + timeoutMs;
  while (seen.length < count) {
    if (Date.now() > until) throw new Error(`only ${seen.length} of ${count} dead letters in ${queue}`);
    seen.push(...(await drainQueue(url, queue)));
    if (seen.length < count) await sleep(50);
  }
  return seen;
}

describe.each(['quorum', 'classic'] as const)('dead-lettering on a %s queue', (queueType) => {
  it('retries a poison event with backoff, then dead-letters it while later events keep flowing', async () => {
    const t = await transport();
    const attempts: Array<{ attempt: number; at: number }> = [];
    const good: number[] = [];
    let lastGoodAt = 0;
    const topic = `dl.${queueType}.orders`;
    const sub = await t.subscribe(
      topic,
      (e: IncomingEvent) => {
        const p = e.payload as { poison?: boolean; n?: number };
        if (p.poison) {
          attempts.push({ attempt: e.attempt, at: Date.now() });
          throw new Error('cannot parse the order: column 7 is garbage');
        }
        good.push(p.n!);
        lastGoodAt = Date.now();
      },
      // prefetch 1: a poison message that blocked its queue would hold every later event back.
      {
        group: 'billing',
        queueType,
        prefetch: 1,
        retry: { attempts: 4, initialDelayMs: 50, factor: 2, maxDelayMs: 150 },
      },
    );
    await t.publish(topic, { poison: true }, { messageId: `poison-${queueType}`, source: 'shop' });
    for (let n = 0; n < 20; n++) await t.publish(topic, { n });

    const [dead] = await waitForDeadLetters(sub.deadLetterQueue, 1);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
    // Backoff 50, 100, then capped at 150 ms.
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(40);
    expect(gaps[1]).toBeGreaterThanOrEqual(90);
    expect(gaps[2]).toBeGreaterThanOrEqual(140);
    // The 20 events behind the poison were all handled before its last attempt.
    expect(good.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(lastGoodAt).toBeLessThan(attempts[3]!.at);

    expect(dead!.id).toBe(`poison-${queueType}`);
    expect(dead!.payload).toEqual({ poison: true });
    expect(dead!.headers).toMatchObject({
      'x-death-reason': 'handler-failed',
      'x-error-code': 'INTERNAL',
      'x-error-message': 'cannot parse the order: column 7 is garbage',
      'x-attempt': '4',
      'x-original-queue': `${namespace}.events.billing.${topic}`,
      'x-original-topic': topic,
      'x-source': 'shop',
    });
    expect(sub.deadLetterQueue).toBe(`${namespace}.events.billing.${topic}.dlq`);
    expect(new Date(dead!.headers['x-dead-lettered-at']!).toISOString()).toBe(dead!.headers['x-dead-lettered-at']);
    console.log(`[amqp] ${queueType}: poison attempts at +${gaps.join('/+')} ms, then dead-lettered`);
    await sleep(300);
    expect(attempts).toHaveLength(4);
    await sub.close();
  });
});

describe('undecodable events', () => {
  it('go to the dead-letter queue at once, without running the handler', async () => {
    const t = await transport();
    let handled = 0;
    const sub = await t.subscribe('dl.raw', () => void handled++, { group: 'g', retry: { initialDelayMs: 50 } });
    // Another client publishes a body that is not the JSON it claims to be.
    const conn = await amqplib.connect(url);
    const ch = await conn.createConfirmChannel();
    ch.publish(`${namespace}.events`, 'dl.raw', Buffer.from('{"not json'), {
      contentType: 'application/json',
      messageId: 'garbled-1',
      persistent: true,
    });
    await ch.waitForConfirms();
    await conn.close();
    await t.publish('dl.raw', { fine: true });

    const [dead] = await waitForDeadLetters(sub.deadLetterQueue, 1);
    expect(dead!.id).toBe('garbled-1');
    expect(dead!.payload).toBe('{"not json');
    expect(dead!.headers).toMatchObject({
      'x-death-reason': 'undecodable',
      'x-error-code': 'INVALID_ARGUMENT',
      'x-attempt': '1',
      'x-original-topic': 'dl.raw',
    });
    await sleep(100);
    expect(handled).toBe(1);
  });
});
