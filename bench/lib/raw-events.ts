import { randomUUID } from 'node:crypto';
import type { QueueType } from '@switchyard/broker';
import amqplib, { type ConfirmChannel } from 'amqplib';
import type { EventsHarness } from './events-harness.js';
import { EVENTS_TOPIC, eventsExchange, groupQueue, groupQueueArgs } from './events-topology.js';

/**
 * Baseline: amqplib alone. A confirm channel publishing persistent, mandatory messages;
 * a second connection consuming the durable group queue with prefetch 100 and one ack
 * per message. The queue is declared with the protocol's arguments, so RabbitMQ does the
 * same work for both variants.
 */
export async function rawEventsHarness(url: string, ns: string, type: QueueType): Promise<EventsHarness> {
  const pubConn = await amqplib.connect(url, { noDelay: true });
  const subConn = await amqplib.connect(url, { noDelay: true });
  const pub: ConfirmChannel = await pubConn.createConfirmChannel();
  const sub = await subConn.createChannel();
  const queue = groupQueue(ns);
  await sub.assertExchange(eventsExchange(ns), 'topic', { durable: true });
  await sub.assertQueue(`${queue}.dlq`, { durable: true, arguments: { 'x-queue-type': type } });
  await sub.assertQueue(queue, { durable: true, arguments: groupQueueArgs(ns, type) });
  await sub.bindQueue(queue, eventsExchange(ns), EVENTS_TOPIC);
  await sub.prefetch(100);
  let onEvent: () => void = () => {};
  await sub.consume(
    queue,
    (msg) => {
      if (!msg) return;
      JSON.parse(msg.content.toString());
      sub.ack(msg);
      onEvent();
    },
    { noAck: false },
  );
  return {
    onEvent(cb) {
      onEvent = cb;
    },
    async publish(payload) {
      const body = Buffer.from(JSON.stringify(payload));
      const opts = {
        persistent: true,
        mandatory: true,
        contentType: 'application/json',
        messageId: randomUUID(),
        timestamp: Math.floor(Date.now() / 1000),
      };
      await new Promise<void>((resolve, reject) => {
        // The window of the caller bounds what is buffered, so `false` (buffer full) needs no wait here.
        pub.publish(eventsExchange(ns), EVENTS_TOPIC, body, opts, (err) => (err ? reject(err) : resolve()));
      });
    },
    async close() {
      await pubConn.close();
      await subConn.close();
    },
  };
}
