/**
 * Events on RabbitMQ beyond the shared contract: unroutable publishes, the message as it
 * travels (docs/protocol.md §3), declarations exactly as documented, and draining close().
 */
import { AmqpTransport, type IncomingEvent, isSwitchyardError } from '@switchyard/broker';
import amqplib, { type ConsumeMessage } from 'amqplib';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { deleteNamespaces, drainQueue } from '../fixtures/amqp-broker.js';
import { uniqueNamespace } from '../harness/servers.js';

const url = inject('amqpUrl');
const namespace = uniqueNamespace('amqp-events');
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

describe('events on RabbitMQ', () => {
  it('an event no group subscribes to is rejected UNROUTABLE; once one does, it is confirmed', async () => {
    const t = await transport();
    const err = await t.publish('nobody.listens', { n: 1 }).catch((e: unknown) => e);
    expect(isSwitchyardError(err, 'UNROUTABLE')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(true);
    await t.subscribe('nobody.*', () => {}, { group: 'late' });
    await expect(t.publish('nobody.listens', { n: 2 })).resolves.toHaveProperty('messageId');
    // Many at once: each unroutable one is told apart from the routed ones beside it.
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => t.publish(i % 2 ? 'nobody.listens' : 'nowhere.at.all', { i })),
    );
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code));
    expect(codes).toEqual(Array.from({ length: 200 }, (_, i) => (i % 2 ? 'ok' : 'UNROUTABLE')));
  });

  it('bounds the publishes waiting for a confirm: beyond publishBufferSize, BUFFER_FULL at once', async () => {
    const t = new AmqpTransport({ url, namespace, publishBufferSize: 50 });
    transports.push(t);
    await t.start();
    await t.subscribe('buffer.test', () => {}, { group: 'buf' });
    const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => t.publish('buffer.test', { i })));
    const full = results.filter(
      (r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'BUFFER_FULL',
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok.length + full.length).toBe(300);
    expect(ok.length).toBeGreaterThanOrEqual(50);
    expect(full.length).toBeGreaterThan(0);
    // Once confirms drain the buffer, publishing works again.
    await expect(t.publish('buffer.test', { again: true })).resolves.toHaveProperty('messageId');
  });

  it('publishes the documented envelope: persistent, message_id, timestamp, content_type, x-source, headers', async () => {
    const t = await transport();
    await t.subscribe('wire.check', () => {}, { group: 'wire' });
    // A plain AMQP client reading the same exchange, as another language would.
    const conn = await amqplib.connect(url);
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, `${namespace}.events`, 'wire.check');
    const got = new Promise<ConsumeMessage>((resolve) => {
      void ch.consume(queue, (m) => m && resolve(m), { noAck: true });
    });
    await t.publish(
      'wire.check',
      { sku: 'a1' },
      { messageId: 'wire-1', source: 'shop', headers: { traceparent: '00-abc-def-01' } },
    );
    const msg = await got;
    await conn.close();
    expect(msg.fields.routingKey).toBe('wire.check');
    expect(msg.properties.deliveryMode).toBe(2);
    expect(msg.properties.messageId).toBe('wire-1');
    expect(msg.properties.contentType).toBe('application/json');
    expect(Math.abs(msg.properties.timestamp - Date.now() / 1000)).toBeLessThan(5);
    expect(msg.properties.headers).toMatchObject({ 'x-source': 'shop', traceparent: '00-abc-def-01' });
    expect(JSON.parse(msg.content.toString())).toEqual({ sku: 'a1' });
  });

  it('declares queues with exactly the documented arguments', async () => {
    const t = await transport();
    await t.subscribe('decl.q', () => {}, { group: 'gq' });
    await t.subscribe('decl.c', () => {}, { group: 'gc', queueType: 'classic', retry: { initialDelayMs: 70 } });
    await t.serve('decl-svc', { m: { handler: () => 1 } });
    const conn = await amqplib.connect(url);
    const attempt = async (declare: (ch: amqplib.Channel) => Promise<unknown>): Promise<string> => {
      const ch = await conn.createChannel();
      ch.on('error', () => {});
      try {
        await declare(ch);
        await ch.close();
        return 'ok';
      } catch (err) {
        return String((err as { code?: number }).code);
      }
    };
    const q = `${namespace}.events.gq.decl.q`;
    const c = `${namespace}.events.gc.decl.c`;
    const quorumArgs = {
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': `${q}.dlq`,
      'x-delivery-limit': 20,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    };
    const results = {
      quorum: await attempt((ch) => ch.assertQueue(q, { durable: true, arguments: quorumArgs })),
      quorumDlq: await attempt((ch) =>
        ch.assertQueue(`${q}.dlq`, { durable: true, arguments: { 'x-queue-type': 'quorum' } }),
      ),
      classic: await attempt((ch) =>
        ch.assertQueue(c, {
          durable: true,
          arguments: {
            'x-queue-type': 'classic',
            'x-dead-letter-exchange': '',
            'x-dead-letter-routing-key': `${c}.dlq`,
          },
        }),
      ),
      delayExchange: await attempt((ch) => ch.assertExchange(`${namespace}.delay.70`, 'fanout', { durable: true })),
      delayQueue: await attempt((ch) =>
        ch.assertQueue(`${namespace}.delay.70`, {
          durable: true,
          arguments: { 'x-message-ttl': 70, 'x-dead-letter-exchange': '' },
        }),
      ),
      rpcQueue: await attempt((ch) => ch.assertQueue(`${namespace}.rpc.decl-svc`, { durable: true, autoDelete: true })),
      events: await attempt((ch) => ch.assertExchange(`${namespace}.events`, 'topic', { durable: true })),
      rpc: await attempt((ch) => ch.assertExchange(`${namespace}.rpc`, 'direct', { durable: true })),
      // A check that can fail: a different delivery limit is refused.
      mismatch: await attempt((ch) =>
        ch.assertQueue(q, { durable: true, arguments: { ...quorumArgs, 'x-delivery-limit': 5 } }),
      ),
    };
    await conn.close();
    expect(results).toEqual({
      quorum: 'ok',
      quorumDlq: 'ok',
      classic: 'ok',
      delayExchange: 'ok',
      delayQueue: 'ok',
      rpcQueue: 'ok',
      events: 'ok',
      rpc: 'ok',
      mismatch: '406',
    });
  });

  it('close() waits for handlers in flight and acks them: nothing is handled twice', async () => {
    const first = await transport();
    let finished = 0;
    let started = 0;
    await first.subscribe(
      'drain.me',
      async () => {
        started++;
        await sleep(300);
        finished++;
      },
      { group: 'drainers' },
    );
    for (let i = 0; i < 5; i++) await first.publish('drain.me', { i });
    while (started < 5) await sleep(10);
    await first.close();
    expect(finished).toBe(5);
    expect(first.state).toBe('closed');

    const second = await transport();
    const again: IncomingEvent[] = [];
    await second.subscribe('drain.me', (e) => void again.push(e), { group: 'drainers' });
    await sleep(300);
    expect(again).toEqual([]);
    expect(await drainQueue(url, `${namespace}.events.drainers.drain.me.dlq`)).toEqual([]);
  });
});
