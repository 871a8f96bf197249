/**
 * One subscription: a group's durable queue for a topic pattern, consumed with manual
 * acks (docs/protocol.md §3).
 *
 * A delivery is acked only after its handler succeeded. A failing handler's message is
 * re-published to a delay exchange (and the original acked once that copy is confirmed),
 * so the queue keeps flowing while the message waits out its backoff; after the last
 * attempt, or at once when it cannot be decoded or fails `validate`, it goes to the
 * dead-letter queue with headers saying why.
 */
import type { Channel, ConsumeMessage, Options } from 'amqplib';
import type { CodecRegistry } from '../codec.js';
import { InvalidOptionsError, isSwitchyardError } from '../errors.js';
import {
  DEFAULT_RETRY_POLICY,
  type DeathReason,
  type EventHandler,
  type IncomingEvent,
  isRefusal,
  type QueueType,
  type RetryPolicy,
  type SubscribeOptions,
  type Subscription,
} from '../transport.js';
import type { RecoveringConnection } from './connection.js';
import { type ChannelSlot, ConsumerChannel, type ConsumerSpec } from './consumer-channel.js';
import { H, headerInt, headerString, isBrokerDeathHeader, toStringHeaders } from './headers.js';
import { isValidName, type TransportLogger } from './options.js';
import type { ConfirmPublisher } from './publisher.js';
import { Topology } from './topology.js';

const WORD = '[A-Za-z0-9_:-]+';
const TOPIC_RE = new RegExp(`^${WORD}(?:\\.${WORD})*$`);
const PATTERN_RE = new RegExp(`^(?:${WORD}|\\*|#)(?:\\.(?:${WORD}|\\*|#))*$`);

export function isValidTopic(topic: unknown): topic is string {
  return typeof topic === 'string' && topic.length <= 200 && TOPIC_RE.test(topic);
}

export interface ResolvedSubscribeOptions {
  group: string;
  queueType: QueueType;
  retry: RetryPolicy;
  prefetch: number;
  validate: ((payload: unknown) => void) | undefined;
  expiresMs: number | undefined;
}

function int(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new InvalidOptionsError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}

/** Validate subscribe() arguments; throws InvalidOptionsError naming the bad one. */
export function resolveSubscribeOptions(
  topic: unknown,
  options: SubscribeOptions,
  defaultPrefetch: number,
): ResolvedSubscribeOptions {
  if (typeof topic !== 'string' || topic.length > 200 || !PATTERN_RE.test(topic))
    throw new InvalidOptionsError(
      `topic must be dot-separated words (letters, digits, '_', '-', ':') or '*' / '#', got ${JSON.stringify(topic)}`,
    );
  if (typeof options !== 'object' || options === null) throw new InvalidOptionsError('subscribe options are required');
  if (!isValidName(options.group))
    throw new InvalidOptionsError(
      `group must be 1-120 characters of letters, digits, '_', '-', '.', ':', got ${JSON.stringify(options.group)}`,
    );
  const queueType = options.queueType ?? 'quorum';
  if (queueType !== 'quorum' && queueType !== 'classic')
    throw new InvalidOptionsError(`queueType must be 'quorum' or 'classic', got ${JSON.stringify(queueType)}`);
  const r = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const retry: RetryPolicy = {
    attempts: int('retry.attempts', r.attempts, 1),
    initialDelayMs: int('retry.initialDelayMs', r.initialDelayMs, 1),
    factor: r.factor,
    maxDelayMs: int('retry.maxDelayMs', r.maxDelayMs, 1),
  };
  if (typeof retry.factor !== 'number' || !Number.isFinite(retry.factor) || retry.factor < 1)
    throw new InvalidOptionsError(`retry.factor must be a number >= 1, got ${JSON.stringify(retry.factor)}`);
  const prefetch = options.prefetch === undefined ? defaultPrefetch : int('prefetch', options.prefetch, 1);
  if (prefetch > 65_535) throw new InvalidOptionsError(`prefetch must be <= 65535, got ${prefetch}`);
  if (options.validate !== undefined && typeof options.validate !== 'function')
    throw new InvalidOptionsError('validate must be a function');
  const expiresMs = options.expiresMs === undefined ? undefined : int('expiresMs', options.expiresMs, 1_000);
  return { group: options.group, queueType, retry, prefetch, validate: options.validate, expiresMs };
}

/** Delay before attempt n+1 (n >= 1), per docs/protocol.md §3. */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(Math.round(policy.initialDelayMs * policy.factor ** (attempt - 1)), policy.maxDelayMs);
}

export interface SubscriberDeps {
  conn: RecoveringConnection;
  publisher: ConfirmPublisher;
  topology: Topology;
  codecs: CodecRegistry;
  logger: TransportLogger;
  onError: (err: Error) => void;
  drainTimeoutMs: number;
}

export class EventSubscription implements Subscription, ConsumerSpec {
  readonly queue: string;
  readonly deadLetterQueue: string;
  readonly label: string;
  readonly prefetch: number;
  /** Delay before attempt i+2, for each attempt that can fail and be retried. */
  private readonly delays: number[];
  private readonly consumer: ConsumerChannel;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly deps: SubscriberDeps,
    readonly topic: string,
    private readonly handler: EventHandler,
    private readonly options: ResolvedSubscribeOptions,
    private readonly onClosed: (sub: EventSubscription) => void,
  ) {
    const names = deps.topology.eventQueue(options.group, topic);
    if (!Topology.fits(names.deadLetterQueue))
      throw new InvalidOptionsError(`group and topic make a queue name over 255 bytes: ${names.queue}`);
    this.queue = names.queue;
    this.deadLetterQueue = names.deadLetterQueue;
    this.label = `subscription ${topic}/${options.group}`;
    this.prefetch = options.prefetch;
    this.delays = [];
    for (let a = 1; a < options.retry.attempts; a++) this.delays.push(retryDelay(options.retry, a));
    this.consumer = new ConsumerChannel(deps.conn, this, deps.logger, deps.onError);
  }

  get group(): string {
    return this.options.group;
  }

  open(): Promise<void> {
    return this.consumer.open();
  }

  async declare(ch: Channel): Promise<string> {
    const { topology } = this.deps;
    await topology.declareEventQueue(
      ch,
      this.options.group,
      this.topic,
      this.options.queueType,
      this.options.expiresMs,
    );
    for (const ms of new Set(this.delays)) await topology.declareDelay(ch, ms);
    return this.queue;
  }

  onMessage(msg: ConsumeMessage, slot: ChannelSlot): void {
    this.consumer.track(this.handle(msg, slot));
  }

  private async handle(msg: ConsumeMessage, slot: ChannelSlot): Promise<void> {
    const props = msg.properties;
    const raw = props.headers as Record<string, unknown> | undefined;
    const attempt = Math.max(1, headerInt(raw, H.attempt) ?? 1);
    // A retried copy arrives through the default exchange, routed by queue name: the
    // topic travels in a header.
    const topic = headerString(raw, H.originalTopic) ?? msg.fields.routingKey;
    let payload: unknown;
    try {
      payload = this.deps.codecs.decode(msg.content, props.contentType as string | undefined);
    } catch (err) {
      return this.deadLetter(msg, slot, 'undecodable', err, attempt, topic);
    }
    if (this.options.validate) {
      try {
        this.options.validate(payload);
      } catch (err) {
        return this.deadLetter(msg, slot, 'invalid', err, attempt, topic);
      }
    }
    const event: IncomingEvent = {
      id: (props.messageId as string | undefined) ?? '',
      topic,
      payload,
      headers: toStringHeaders(raw),
      contentType: (props.contentType as string | undefined) ?? 'application/json',
      redelivered: msg.fields.redelivered,
      attempt,
      timestamp: typeof props.timestamp === 'number' ? props.timestamp * 1000 : undefined,
    };
    try {
      await this.handler(event);
    } catch (err) {
      this.deps.logger.debug({ err, topic, id: event.id, attempt, queue: this.queue }, 'event handler failed');
      if (isRefusal(err)) return this.deadLetter(msg, slot, 'refused', err, attempt, topic);
      if (attempt < this.options.retry.attempts) return this.retry(msg, slot, attempt, topic);
      return this.deadLetter(msg, slot, 'handler-failed', err, attempt, topic);
    }
    slot.ack(msg);
  }

  /** Properties of a copy: the original's, persistent, with `headers`. */
  private copyProps(msg: ConsumeMessage, headers: Record<string, unknown>): Options.Publish {
    const p = msg.properties;
    const props: Options.Publish = { deliveryMode: 2, mandatory: true, headers };
    if (p.contentType !== undefined) props.contentType = p.contentType;
    if (p.contentEncoding !== undefined) props.contentEncoding = p.contentEncoding;
    if (p.messageId !== undefined) props.messageId = p.messageId;
    if (p.timestamp !== undefined) props.timestamp = p.timestamp;
    if (p.correlationId !== undefined) props.correlationId = p.correlationId;
    if (p.type !== undefined) props.type = p.type;
    if (p.appId !== undefined) props.appId = p.appId;
    return props;
  }

  private copyHeaders(msg: ConsumeMessage): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const raw = msg.properties.headers as Record<string, unknown> | undefined;
    if (raw) for (const k in raw) if (!isBrokerDeathHeader(k)) out[k] = raw[k];
    return out;
  }

  private async retry(msg: ConsumeMessage, slot: ChannelSlot, attempt: number, topic: string): Promise<void> {
    const delay = this.delays[attempt - 1]!;
    const headers = this.copyHeaders(msg);
    headers[H.attempt] = String(attempt + 1);
    headers[H.originalTopic] = topic;
    await this.republish(msg, slot, this.deps.topology.delay(delay), this.queue, headers, 'retry');
  }

  private async deadLetter(
    msg: ConsumeMessage,
    slot: ChannelSlot,
    reason: DeathReason,
    err: unknown,
    attempt: number,
    topic: string,
  ): Promise<void> {
    const headers = this.copyHeaders(msg);
    const defaultCode = reason === 'handler-failed' ? 'INTERNAL' : 'INVALID_ARGUMENT';
    headers[H.deathReason] = reason;
    headers[H.errorCode] = isSwitchyardError(err) ? err.code : defaultCode;
    headers[H.errorMessage] = err instanceof Error ? err.message : String(err);
    headers[H.attempt] = String(attempt);
    headers[H.originalQueue] = this.queue;
    headers[H.originalTopic] = topic;
    headers[H.deadLetteredAt] = new Date().toISOString();
    this.deps.logger.warn(
      { queue: this.queue, id: msg.properties.messageId, reason, attempt, code: headers[H.errorCode] },
      'event dead-lettered',
    );
    await this.republish(msg, slot, '', this.deadLetterQueue, headers, 'dead-letter');
  }

  /** Publish a confirmed copy, then ack the original; if the copy fails, requeue the original. */
  private async republish(
    msg: ConsumeMessage,
    slot: ChannelSlot,
    exchange: string,
    routingKey: string,
    headers: Record<string, unknown>,
    what: string,
  ): Promise<void> {
    try {
      await this.deps.publisher.publish(exchange, routingKey, msg.content, this.copyProps(msg, headers));
    } catch (err) {
      this.deps.logger.error({ err, queue: this.queue, id: msg.properties.messageId }, `event ${what} failed`);
      slot.nack(msg, true);
      return;
    }
    slot.ack(msg);
  }

  /** Stop taking events, wait for handlers in flight. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.consumer.close(this.deps.drainTimeoutMs).finally(() => this.onClosed(this));
    return this.closing;
  }
}
