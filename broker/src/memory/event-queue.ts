/**
 * A group queue `<ns>.events.<group>.<pattern>` and its `.dlq`: durable, so it outlives
 * its subscribers and keeps events until one comes back. Retries wait in timers that
 * belong to the queue, not to a subscriber (on RabbitMQ they wait in a delay queue), so a
 * subscriber that closes does not lose an event waiting for its next attempt.
 */
import type { QueueType } from '../transport.js';
import type { EventMessage, MemoryDeadLetter } from './messages.js';
import { compileTopicPattern, type TopicMatcher } from './topic-matcher.js';
import { type Delivery, WorkQueue } from './work-queue.js';

/** RabbitMQ's quorum `x-delivery-limit` used by the protocol. */
export const QUORUM_DELIVERY_LIMIT = 20;

export class EventQueue {
  readonly deadLetterQueue: string;
  readonly work = new WorkQueue<EventMessage>();
  readonly matches: TopicMatcher;
  private deadLetters: MemoryDeadLetter[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private disposed = false;

  constructor(
    readonly name: string,
    readonly namespace: string,
    readonly pattern: string,
    readonly queueType: QueueType,
  ) {
    this.deadLetterQueue = `${name}.dlq`;
    this.matches = compileTopicPattern(pattern);
  }

  /** Put `message` back in the queue after `delayMs`. The timer does not keep the process alive. */
  enqueueLater(message: EventMessage, delayMs: number): void {
    if (this.disposed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.work.enqueue(message);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  deadLetter(letter: MemoryDeadLetter): void {
    this.deadLetters.push(letter);
  }

  /**
   * Return an unsettled delivery to the queue as redelivered; past the quorum delivery
   * limit it goes to the dead-letter queue instead, as RabbitMQ does with a poison message.
   */
  redeliver(delivery: Delivery<EventMessage>): void {
    const message = delivery.message;
    const next: EventMessage = { ...message, redelivered: true, deliveryCount: message.deliveryCount + 1 };
    if (this.queueType === 'quorum' && next.deliveryCount > QUORUM_DELIVERY_LIMIT) {
      this.deadLetter({
        id: message.id,
        topic: message.topic,
        body: message.body,
        contentType: message.contentType,
        timestamp: message.timestamp,
        headers: {
          ...message.headers,
          'x-death-reason': 'delivery-limit',
          'x-original-queue': this.name,
          'x-original-topic': message.topic,
          'x-dead-lettered-at': new Date().toISOString(),
        },
      });
      delivery.ack();
      return;
    }
    delivery.requeue(next);
  }

  peekDeadLetters(): MemoryDeadLetter[] {
    return [...this.deadLetters];
  }

  takeDeadLetters(): MemoryDeadLetter[] {
    const taken = this.deadLetters;
    this.deadLetters = [];
    return taken;
  }

  get deadLetterCount(): number {
    return this.deadLetters.length;
  }

  get pendingRetries(): number {
    return this.timers.size;
  }

  /** Drop pending retries: the bus is going away. */
  dispose(): void {
    this.disposed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
