/**
 * MemoryTransport: the Transport in one process, with RabbitMQ's semantics (the contract
 * suite in tests/contract runs against it and AmqpTransport alike). It is the embedded
 * default for `npm start` and for unit tests.
 *
 * No globals: each instance without a `bus` option is its own broker. Give several
 * instances one MemoryBus to have them behave like several services (or several
 * instances of one service) on one broker.
 *
 * Beyond Transport, it offers `deadLetters()` / `takeDeadLetters()` to read a
 * subscription's dead-letter queue, and `bus` for queue statistics. The 'error' event
 * reports what callers do not see in full: a handler's plain Error (the caller gets a
 * generic INTERNAL) and responses that fail `validateResponse`.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { failedBidiCall } from '../bidi/bidi-call.js';
import { checkBidiDefinition } from '../bidi/bidi-definition.js';
import {
  ClosedError,
  InvalidOptionsError,
  isSwitchyardError,
  type SwitchyardError,
  UnavailableError,
} from '../errors.js';
import type {
  BidiCall,
  BidiCallOptions,
  CallOptions,
  EventHandler,
  MethodDefinition,
  PublishOptions,
  PublishReceipt,
  QueueType,
  ServeOptions,
  Server,
  StreamCallOptions,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportEvents,
  TransportState,
} from '../transport.js';
import { openMemoryBidi } from './bidi-call.js';
import type { MemoryBus } from './bus.js';
import { checkHeaders, codecFor, encodePayload, prepareCall } from './call-request.js';
import { EventSubscriber } from './event-subscriber.js';
import type { EventMessage, MemoryDeadLetter } from './messages.js';
import {
  assertName,
  type MemoryTransportOptions,
  positiveInteger,
  type ResolvedMemoryOptions,
  resolveMemoryOptions,
} from './options.js';
import { PendingCalls } from './pending-calls.js';
import { resolveRetryPolicy } from './retry-policy.js';
import { RpcServer } from './rpc-server.js';
import { StreamCall } from './stream-call.js';
import { assertPublishTopic, assertTopicPattern } from './topic-matcher.js';
import { type CallRoute, unaryCall } from './unary-call.js';

/** A dead letter with its body decoded (`payload` is undefined when the body cannot be decoded). */
export interface DecodedDeadLetter extends MemoryDeadLetter {
  readonly payload: unknown;
}

const QUEUE_TYPES: readonly QueueType[] = ['quorum', 'classic'];

export class MemoryTransport implements Transport {
  readonly kind = 'memory';
  private currentState: TransportState = 'idle';
  private readonly emitter = new EventEmitter();
  private readonly options: ResolvedMemoryOptions;
  private readonly subscribers = new Set<EventSubscriber>();
  private readonly servers = new Set<RpcServer>();
  private readonly pending = new PendingCalls();
  private readonly route: CallRoute;
  private closing: Promise<void> | undefined;

  constructor(options: MemoryTransportOptions = {}) {
    this.options = resolveMemoryOptions(options);
    this.route = {
      bus: this.options.bus,
      namespace: this.options.namespace,
      codecs: this.options.codecs,
      pending: this.pending,
    };
  }

  get state(): TransportState {
    return this.currentState;
  }

  get namespace(): string {
    return this.options.namespace;
  }

  /** The bus this transport uses (private unless one was passed in). */
  get bus(): MemoryBus {
    return this.options.bus;
  }

  async start(): Promise<void> {
    this.assertOpen();
    if (this.currentState === 'connected') return;
    this.setState('connecting');
    this.setState('connected');
  }

  /**
   * Stop subscribers and servers (each waits for its handlers, up to drainTimeoutMs), then
   * fail the calls still waiting with UNAVAILABLE. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // In parallel: the whole close is bounded by one drainTimeoutMs, not one per consumer.
    await Promise.all([...[...this.subscribers].map((s) => s.close()), ...[...this.servers].map((s) => s.close())]);
    this.pending.failAll(new UnavailableError('the transport closed before the reply arrived'));
    if (this.options.ownsBus) this.options.bus.close();
    this.setState('closed');
  }

  // ---------------------------------------------------------------------------------
  // Events

  async publish(topic: string, payload: unknown, options: PublishOptions = {}): Promise<PublishReceipt> {
    await this.ready();
    assertPublishTopic(topic);
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('publish options must be an object');
    const id = options.messageId ?? randomUUID();
    if (typeof id !== 'string' || id.length === 0)
      throw new InvalidOptionsError('messageId must be a non-empty string');
    const headers = checkHeaders(options.headers);
    if (options.source !== undefined) {
      if (typeof options.source !== 'string') throw new InvalidOptionsError('source must be a string');
      headers['x-source'] = options.source;
    }
    const codec = codecFor(this.options.codecs, options.contentType);
    const message: EventMessage = {
      id,
      topic,
      body: encodePayload(codec, payload),
      contentType: codec.contentType,
      headers,
      timestamp: Date.now(),
      redelivered: false,
      deliveryCount: 0,
    };
    this.options.bus.publishEvent(this.options.namespace, message);
    return { messageId: id };
  }

  async subscribe(topic: string, handler: EventHandler, options: SubscribeOptions): Promise<Subscription> {
    await this.ready();
    assertTopicPattern(topic);
    if (typeof handler !== 'function') throw new InvalidOptionsError('handler must be a function');
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('subscribe options must be an object with a group');
    assertName(options.group, 'group');
    const queueType = options.queueType ?? 'quorum';
    if (!QUEUE_TYPES.includes(queueType))
      throw new InvalidOptionsError(`queueType must be one of ${QUEUE_TYPES.join(', ')}, got ${String(queueType)}`);
    if (options.validate !== undefined && typeof options.validate !== 'function')
      throw new InvalidOptionsError('validate must be a function');
    const retry = resolveRetryPolicy(options.retry);
    const prefetch = positiveInteger(options.prefetch ?? this.options.defaultPrefetch, 'prefetch');
    const queue = this.options.bus.declareEventQueue(this.options.namespace, options.group, topic, queueType);
    const subscriber = new EventSubscriber(
      queue,
      {
        handler,
        retry,
        prefetch,
        validate: options.validate,
        codecs: this.options.codecs,
        drainTimeoutMs: this.options.drainTimeoutMs,
        group: options.group,
      },
      (s) => this.subscribers.delete(s),
    );
    this.subscribers.add(subscriber);
    subscriber.start();
    return subscriber;
  }

  // ---------------------------------------------------------------------------------
  // RPC

  async serve(service: string, methods: Record<string, MethodDefinition>, options: ServeOptions = {}): Promise<Server> {
    await this.ready();
    assertName(service, 'service');
    if (typeof methods !== 'object' || methods === null || Object.keys(methods).length === 0)
      throw new InvalidOptionsError(`methods of "${service}" must be a non-empty object`);
    for (const [name, def] of Object.entries(methods)) {
      if (typeof def?.handler !== 'function')
        throw new InvalidOptionsError(`methods.${name}.handler of "${service}" must be a function`);
      checkBidiDefinition(name, def);
    }
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('serve options must be an object');
    const prefetch = positiveInteger(options.prefetch ?? this.options.defaultPrefetch, 'prefetch');
    const queue = this.options.bus.declareRpcQueue(this.options.namespace, service);
    const server = new RpcServer(
      queue,
      {
        methods: { ...methods },
        prefetch,
        codecs: this.options.codecs,
        drainTimeoutMs: this.options.drainTimeoutMs,
        onError: (err) => this.emitError(err),
      },
      (s) => this.servers.delete(s),
    );
    this.servers.add(server);
    server.start();
    return server;
  }

  async call(service: string, method: string, payload: unknown, options: CallOptions = {}): Promise<unknown> {
    await this.ready();
    const prepared = prepareCall(this.options, service, method, payload, options, false);
    return unaryCall(this.route, service, method, prepared, options.signal);
  }

  stream(
    service: string,
    method: string,
    payload: unknown,
    options: StreamCallOptions = {},
  ): AsyncIterableIterator<unknown> {
    let prepared: ReturnType<typeof prepareCall> | SwitchyardError;
    try {
      this.assertOpen();
      // start() has nothing to await in memory: it completes synchronously.
      if (this.currentState !== 'connected') void this.start();
      prepared = prepareCall(this.options, service, method, payload, options, true);
    } catch (err) {
      prepared = isSwitchyardError(err) ? err : new InvalidOptionsError(String(err));
    }
    return new StreamCall(this.route, service, method, prepared, options?.signal);
  }

  bidi(service: string, method: string, options?: BidiCallOptions): BidiCall {
    try {
      this.assertOpen();
      if (this.currentState !== 'connected') void this.start();
    } catch (err) {
      return failedBidiCall('', isSwitchyardError(err) ? err : new InvalidOptionsError(String(err)));
    }
    return openMemoryBidi(this.route, service, method, options);
  }

  // ---------------------------------------------------------------------------------
  // Dead letters (operations and tests)

  /** The messages in a dead-letter queue (`subscription.deadLetterQueue`), decoded, left in place. */
  deadLetters(deadLetterQueue: string): DecodedDeadLetter[] {
    return this.options.bus.deadLetters(deadLetterQueue).map((l) => this.decodeLetter(l));
  }

  /** Remove and return the messages in a dead-letter queue, decoded, oldest first. */
  takeDeadLetters(deadLetterQueue: string): DecodedDeadLetter[] {
    return this.options.bus.takeDeadLetters(deadLetterQueue).map((l) => this.decodeLetter(l));
  }

  // ---------------------------------------------------------------------------------

  on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    this.emitter.on(event, listener);
    return this;
  }

  off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    this.emitter.off(event, listener);
    return this;
  }

  private decodeLetter(letter: MemoryDeadLetter): DecodedDeadLetter {
    let payload: unknown;
    try {
      payload = this.options.codecs.decode(letter.body, letter.contentType);
    } catch {
      payload = undefined;
    }
    return { ...letter, payload };
  }

  /** Work before start() starts the transport (there is nothing to connect); after close() it is refused. */
  private async ready(): Promise<void> {
    this.assertOpen();
    if (this.currentState !== 'connected') await this.start();
  }

  private assertOpen(): void {
    if (this.closing) throw new ClosedError('the transport is closed');
  }

  private setState(state: TransportState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emitter.emit('state', state);
  }

  /** Emitting 'error' with no listener would throw: report only to those who listen. */
  private emitError(err: SwitchyardError): void {
    if (this.emitter.listenerCount('error') > 0) this.emitter.emit('error', err);
  }
}
