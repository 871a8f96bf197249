/**
 * Names and declarations of every exchange and queue (docs/protocol.md §1). This is the
 * one place names are built, so the wire protocol can be read off this file.
 */
import type { Channel } from 'amqplib';
import type { QueueType } from '../transport.js';

/** RabbitMQ's own limit on queue and exchange names, in bytes. */
const MAX_NAME_BYTES = 255;

/** Quorum event queues: how many redeliveries (consumer crashes) before RabbitMQ dead-letters. */
export const QUORUM_DELIVERY_LIMIT = 20;

export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

export interface EventQueueNames {
  queue: string;
  deadLetterQueue: string;
}

export class Topology {
  readonly eventsExchange: string;
  readonly rpcExchange: string;

  constructor(readonly namespace: string) {
    this.eventsExchange = `${namespace}.events`;
    this.rpcExchange = `${namespace}.rpc`;
  }

  rpcQueue(service: string): string {
    return `${this.namespace}.rpc.${service}`;
  }

  eventQueue(group: string, pattern: string): EventQueueNames {
    const queue = `${this.namespace}.events.${group}.${pattern}`;
    return { queue, deadLetterQueue: `${queue}.dlq` };
  }

  /** Exchange and queue share the name. */
  delay(ms: number): string {
    return `${this.namespace}.delay.${ms}`;
  }

  /** Whether a name built from user input fits RabbitMQ's limit. */
  static fits(name: string): boolean {
    return Buffer.byteLength(name) <= MAX_NAME_BYTES;
  }

  /** The exchanges everyone declares at start. */
  async declareShared(ch: Channel): Promise<void> {
    await ch.assertExchange(this.eventsExchange, 'topic', { durable: true });
    await ch.assertExchange(this.rpcExchange, 'direct', { durable: true });
  }

  /** A service's request queue: classic, durable, auto-delete (gone with its last server). */
  async declareRpcQueue(ch: Channel, service: string): Promise<string> {
    const queue = this.rpcQueue(service);
    await ch.assertExchange(this.rpcExchange, 'direct', { durable: true });
    await ch.assertQueue(queue, { durable: true, autoDelete: true });
    await ch.bindQueue(queue, this.rpcExchange, service);
    return queue;
  }

  /** A group's queue for a topic pattern and its dead-letter queue; with `expiresMs`, both expire unused. */
  async declareEventQueue(
    ch: Channel,
    group: string,
    pattern: string,
    type: QueueType,
    expiresMs?: number,
  ): Promise<EventQueueNames> {
    const names = this.eventQueue(group, pattern);
    const expiry = expiresMs === undefined ? {} : { 'x-expires': expiresMs };
    const args: Record<string, unknown> = {
      'x-queue-type': type,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': names.deadLetterQueue,
      ...expiry,
    };
    if (type === 'quorum') {
      args['x-delivery-limit'] = QUORUM_DELIVERY_LIMIT;
      args['x-dead-letter-strategy'] = 'at-least-once';
      args['x-overflow'] = 'reject-publish';
    }
    await ch.assertExchange(this.eventsExchange, 'topic', { durable: true });
    await ch.assertQueue(names.deadLetterQueue, { durable: true, arguments: { 'x-queue-type': type, ...expiry } });
    await ch.assertQueue(names.queue, { durable: true, arguments: args });
    await ch.bindQueue(names.queue, this.eventsExchange, pattern);
    return names;
  }

  /**
   * A retry delay: a fanout exchange into a queue whose messages all share one TTL and
   * then dead-letter to the default exchange with their routing key, the queue to retry on.
   */
  async declareDelay(ch: Channel, ms: number): Promise<string> {
    const name = this.delay(ms);
    await ch.assertExchange(name, 'fanout', { durable: true });
    await ch.assertQueue(name, {
      durable: true,
      arguments: { 'x-message-ttl': ms, 'x-dead-letter-exchange': '' },
    });
    await ch.bindQueue(name, name, '');
    return name;
  }
}
