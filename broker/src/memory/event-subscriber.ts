/**
 * One subscriber of a group queue: decode, validate, run the handler, then settle the
 * delivery. Ack only after success; a failure schedules the next attempt (the event waits
 * in the queue's retry timer) or dead-letters it with the protocol's reason headers.
 */
import type { CodecRegistry } from '../codec.js';
import { InvalidArgumentError, isSwitchyardError } from '../errors.js';
import {
  type DeathReason,
  type EventHandler,
  type IncomingEvent,
  isRefusal,
  type RetryPolicy,
  type Subscription,
} from '../transport.js';
import { settledWithin } from './drain.js';
import type { EventQueue } from './event-queue.js';
import type { EventMessage } from './messages.js';
import { retryDelayMs } from './retry-policy.js';
import type { Delivery, QueueConsumer } from './work-queue.js';

export interface EventSubscriberSettings {
  readonly handler: EventHandler;
  readonly retry: Readonly<RetryPolicy>;
  readonly prefetch: number;
  readonly validate: ((payload: unknown) => void) | undefined;
  readonly codecs: CodecRegistry;
  readonly drainTimeoutMs: number;
  readonly group: string;
}

export class EventSubscriber implements Subscription, QueueConsumer<EventMessage> {
  readonly topic: string;
  readonly group: string;
  readonly deadLetterQueue: string;
  readonly prefetch: number;
  private readonly inFlight = new Map<Delivery<EventMessage>, Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly queue: EventQueue,
    private readonly settings: EventSubscriberSettings,
    private readonly onClosed: (subscriber: EventSubscriber) => void,
  ) {
    this.topic = queue.pattern;
    this.group = settings.group;
    this.deadLetterQueue = queue.deadLetterQueue;
    this.prefetch = settings.prefetch;
  }

  /** Name of the group queue this subscriber consumes. */
  get queueName(): string {
    return this.queue.name;
  }

  start(): void {
    this.queue.work.addConsumer(this);
  }

  deliver(delivery: Delivery<EventMessage>): void {
    const work = this.process(delivery).finally(() => this.inFlight.delete(delivery));
    this.inFlight.set(delivery, work);
  }

  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    this.queue.work.removeConsumer(this);
    const handlers = Promise.allSettled(this.inFlight.values());
    if (!(await settledWithin(handlers, this.settings.drainTimeoutMs))) {
      // Like a consumer that dies before acking: RabbitMQ would redeliver these.
      for (const delivery of this.inFlight.keys()) if (!delivery.settled) this.queue.redeliver(delivery);
    }
    this.onClosed(this);
  }

  private async process(delivery: Delivery<EventMessage>): Promise<void> {
    const message = delivery.message;
    const attempt = attemptOf(message);
    let payload: unknown;
    try {
      payload = this.settings.codecs.decode(message.body, message.contentType);
    } catch (err) {
      this.deadLetter(delivery, 'undecodable', err, attempt);
      return;
    }
    if (this.settings.validate) {
      try {
        this.settings.validate(payload);
      } catch (err) {
        // Retrying cannot fix an invalid event.
        this.deadLetter(delivery, 'invalid', asInvalid(err), attempt);
        return;
      }
    }
    const event: IncomingEvent = {
      id: message.id,
      topic: message.topic,
      payload,
      headers: { ...message.headers },
      contentType: message.contentType,
      redelivered: message.redelivered,
      attempt,
      timestamp: message.timestamp,
    };
    try {
      await this.settings.handler(event);
    } catch (err) {
      if (delivery.settled) return; // close() gave up waiting and already redelivered it
      if (isRefusal(err)) {
        this.deadLetter(delivery, 'refused', err, attempt);
      } else if (attempt < this.settings.retry.attempts) {
        const next: EventMessage = {
          ...message,
          headers: { ...message.headers, 'x-attempt': String(attempt + 1) },
          redelivered: false,
          deliveryCount: 0,
        };
        this.queue.enqueueLater(next, retryDelayMs(this.settings.retry, attempt));
        delivery.ack();
      } else {
        this.deadLetter(delivery, 'handler-failed', err, attempt);
      }
      return;
    }
    delivery.ack();
  }

  private deadLetter(delivery: Delivery<EventMessage>, reason: DeathReason, err: unknown, attempt: number): void {
    const message = delivery.message;
    // The DLQ is for operators, so a plain Error keeps its real message here (unlike an RPC reply).
    const code = isSwitchyardError(err) ? err.code : 'INTERNAL';
    const text = err instanceof Error ? err.message : String(err);
    this.queue.deadLetter({
      id: message.id,
      topic: message.topic,
      body: message.body,
      contentType: message.contentType,
      timestamp: message.timestamp,
      headers: {
        ...message.headers,
        'x-death-reason': reason,
        'x-error-code': code,
        'x-error-message': text,
        'x-attempt': String(attempt),
        'x-original-queue': this.queue.name,
        'x-original-topic': message.topic,
        'x-dead-lettered-at': new Date().toISOString(),
      },
    });
    delivery.ack();
  }
}

function attemptOf(message: EventMessage): number {
  const raw = message.headers['x-attempt'];
  const n = raw === undefined ? 1 : Number(raw);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

function asInvalid(err: unknown): unknown {
  if (isSwitchyardError(err)) return err;
  return new InvalidArgumentError(`event is invalid: ${err instanceof Error ? err.message : String(err)}`);
}
