/**
 * The RabbitMQ Transport: events and RPC over the wire protocol in docs/protocol.md.
 *
 * Two recovering connections: one publishes (events, requests, replies), one consumes
 * (subscriptions, request queues). Everything that owns a channel re-attaches itself
 * when its connection comes back; see connection.ts.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Options } from 'amqplib';
import { failedBidiCall } from '../bidi/bidi-call.js';
import {
  ClosedError,
  FailedPreconditionError,
  InvalidArgumentError,
  isSwitchyardError,
  NotFoundError,
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
  ServeOptions,
  Server,
  StreamCallOptions,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportEvents,
  TransportState,
} from '../transport.js';
import { openBidi } from './bidi-client.js';
import { type ChannelOwner, RecoveringConnection } from './connection.js';
import { H } from './headers.js';
import { type AmqpTransportOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { ConfirmPublisher } from './publisher.js';
import { ReplyChannel } from './reply-channel.js';
import { RpcClient } from './rpc-client.js';
import { RpcServer, validateServe } from './rpc-server.js';
import { StreamCall } from './stream.js';
import { EventSubscription, isValidTopic, resolveSubscribeOptions } from './subscriber.js';
import { Topology } from './topology.js';

/** Why a declaration failed, as a typed error (amqplib errors carry the AMQP reply code). */
function declarationError(err: unknown, what: string): SwitchyardError {
  if (isSwitchyardError(err)) return err;
  const e = err as { code?: number; message?: string };
  const message = `${what}: ${e?.message ?? String(err)}`;
  if (e?.code === 406) return new FailedPreconditionError(message, { cause: err });
  if (e?.code === 404) return new NotFoundError(message, { cause: err });
  return new UnavailableError(message, { cause: err });
}

interface Parts {
  pub: RecoveringConnection;
  sub: RecoveringConnection;
  publisher: ConfirmPublisher;
  client: RpcClient;
  replies: ReplyChannel;
}

export class AmqpTransport extends EventEmitter implements Transport {
  readonly kind = 'amqp';
  private readonly opts: ResolvedOptions;
  private readonly topology: Topology;
  private currentState: TransportState = 'idle';
  private parts: Parts | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly subscriptions = new Set<EventSubscription>();
  private readonly servers = new Set<RpcServer>();

  /** Throws InvalidOptionsError naming the bad option. */
  constructor(options: AmqpTransportOptions) {
    super();
    this.opts = resolveOptions(options);
    this.topology = new Topology(this.opts.namespace);
  }

  get state(): TransportState {
    return this.currentState;
  }

  get namespace(): string {
    return this.opts.namespace;
  }

  override on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    return super.on(event, listener);
  }

  override off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    return super.off(event, listener);
  }

  private setState(state: TransportState): void {
    if (this.currentState === state || this.currentState === 'closed') return;
    this.currentState = state;
    this.opts.logger.debug({ state }, 'transport state');
    this.emit('state', state);
  }

  /** Reported, not thrown: nobody is waiting for it. An 'error' event with no listener would crash the process. */
  private readonly reportError = (err: Error): void => {
    this.opts.logger.warn({ err }, 'transport error');
    if (this.listenerCount('error') > 0) this.emit('error', err);
  };

  /** Connect both connections and declare the shared exchanges. Idempotent. */
  start(): Promise<void> {
    if (this.closing) return Promise.reject(new ClosedError('transport closed'));
    this.starting ??= this.connect().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async connect(): Promise<void> {
    const { opts } = this;
    this.setState('connecting');
    const connection = (role: 'publish' | 'consume') =>
      new RecoveringConnection({
        url: opts.url,
        role,
        connectionName: opts.connectionName,
        heartbeat: opts.heartbeat,
        connectTimeoutMs: opts.connectTimeoutMs,
        tls: opts.tls,
        logger: opts.logger,
        onError: this.reportError,
      });
    const pub = connection('publish');
    const sub = connection('consume');
    const parts: Parts = {
      pub,
      sub,
      publisher: new ConfirmPublisher(pub, {
        bufferSize: opts.publishBufferSize,
        timeoutMs: opts.publishTimeoutMs,
        logger: opts.logger,
      }),
      client: new RpcClient({
        conn: pub,
        topology: this.topology,
        codecs: opts.codecs,
        logger: opts.logger,
        defaultTimeoutMs: opts.defaultTimeoutMs,
      }),
      replies: new ReplyChannel(pub, opts.logger),
    };
    const sharedTopology: ChannelOwner = {
      attach: async (model) => {
        const ch = await model.createChannel();
        try {
          await this.topology.declareShared(ch);
        } finally {
          await ch.close().catch(() => {});
        }
      },
    };
    try {
      await Promise.all([pub.start(), sub.start()]);
      await pub.add(sharedTopology).catch((err: unknown) => {
        throw declarationError(err, 'cannot declare the shared exchanges');
      });
      await parts.publisher.start();
      await parts.client.start();
      await parts.replies.start();
    } catch (err) {
      await Promise.all([pub.close(), sub.close()]);
      this.setState('idle');
      throw err;
    }
    for (const conn of [pub, sub]) {
      conn.on('down', this.onConnectionChange);
      conn.on('up', this.onConnectionChange);
    }
    this.parts = parts;
    if (this.closing) return; // close() was called while connecting: it cleans up
    this.onConnectionChange();
  }

  private readonly onConnectionChange = (): void => {
    const parts = this.parts;
    if (!parts || this.closing) return;
    this.setState(parts.pub.connected && parts.sub.connected ? 'connected' : 'disconnected');
  };

  /** The parts, or the error to refuse work with. */
  private usable(): Parts | SwitchyardError {
    if (this.closing) return new ClosedError('transport closed');
    if (!this.parts) return new UnavailableError('transport not started: call start() first');
    return this.parts;
  }

  async publish(topic: string, payload: unknown, options: PublishOptions = {}): Promise<PublishReceipt> {
    const parts = this.usable();
    if (parts instanceof Error) throw parts;
    if (!isValidTopic(topic))
      throw new InvalidArgumentError(
        `topic must be dot-separated words (letters, digits, '_', '-', ':'), got ${JSON.stringify(topic)}`,
      );
    let body: Buffer;
    let contentType: string;
    try {
      const codec = options.contentType ? this.opts.codecs.get(options.contentType) : this.opts.codecs.default;
      contentType = codec.contentType;
      body = codec.encode(payload);
    } catch (err) {
      throw new InvalidArgumentError(`event cannot be encoded: ${(err as Error).message}`);
    }
    const messageId = options.messageId ?? randomUUID();
    const props: Options.Publish = {
      deliveryMode: 2,
      mandatory: true,
      contentType,
      messageId,
      timestamp: Math.floor(Date.now() / 1000),
    };
    // No empty header table on the wire when there is nothing to say.
    if (options.headers || options.source !== undefined) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.source !== undefined) headers[H.source] = options.source;
      props.headers = headers;
    }
    await parts.publisher.publish(this.topology.eventsExchange, topic, body, props);
    return { messageId };
  }

  async subscribe(topic: string, handler: EventHandler, options: SubscribeOptions): Promise<Subscription> {
    const parts = this.usable();
    if (parts instanceof Error) throw parts;
    const resolved = resolveSubscribeOptions(topic, options, this.opts.prefetch);
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    const sub = new EventSubscription(
      {
        conn: parts.sub,
        publisher: parts.publisher,
        topology: this.topology,
        codecs: this.opts.codecs,
        logger: this.opts.logger,
        onError: this.reportError,
        drainTimeoutMs: this.opts.drainTimeoutMs,
      },
      topic,
      handler,
      resolved,
      (s) => this.subscriptions.delete(s),
    );
    this.subscriptions.add(sub);
    try {
      await sub.open();
    } catch (err) {
      this.subscriptions.delete(sub);
      await sub.close().catch(() => {});
      throw declarationError(err, `cannot subscribe ${resolved.group} to ${topic}`);
    }
    return sub;
  }

  async serve(service: string, methods: Record<string, MethodDefinition>, options?: ServeOptions): Promise<Server> {
    const parts = this.usable();
    if (parts instanceof Error) throw parts;
    const prefetch = validateServe(this.topology, service, methods, options, this.opts.prefetch);
    const server = new RpcServer(
      {
        conn: parts.sub,
        replies: parts.replies,
        topology: this.topology,
        codecs: this.opts.codecs,
        logger: this.opts.logger,
        onError: this.reportError,
        drainTimeoutMs: this.opts.drainTimeoutMs,
      },
      service,
      { ...methods },
      prefetch,
      (s) => this.servers.delete(s),
    );
    this.servers.add(server);
    try {
      await server.open();
    } catch (err) {
      this.servers.delete(server);
      await server.close().catch(() => {});
      throw declarationError(err, `cannot serve ${service}`);
    }
    return server;
  }

  call(service: string, method: string, payload: unknown, options?: CallOptions): Promise<unknown> {
    const parts = this.usable();
    if (parts instanceof Error) return Promise.reject(parts);
    return parts.client.call(service, method, payload, options);
  }

  stream(
    service: string,
    method: string,
    payload: unknown,
    options?: StreamCallOptions,
  ): AsyncIterableIterator<unknown> {
    const parts = this.usable();
    if (parts instanceof Error) return StreamCall.failed(parts);
    return parts.client.stream(service, method, payload, options);
  }

  bidi(service: string, method: string, options?: BidiCallOptions): BidiCall {
    const parts = this.usable();
    if (parts instanceof Error) return failedBidiCall('', parts);
    return openBidi(parts.client, service, method, options);
  }

  /**
   * Graceful, in this order: stop consumers, wait for handlers in flight, fail pending
   * calls (UNAVAILABLE), wait for publish confirms (bounded by publishTimeoutMs), close
   * the connections. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.starting?.catch(() => {});
    const parts = this.parts;
    if (parts) {
      const consumers = [...this.subscriptions, ...this.servers];
      await Promise.all(consumers.map((c) => c.close().catch(this.reportError)));
      await parts.client.close();
      if (parts.pub.connected) await parts.publisher.whenIdle();
      await parts.publisher.close(new ClosedError('transport closed before RabbitMQ confirmed the message'));
      await parts.replies.close();
      await Promise.all([parts.pub.close(), parts.sub.close()]);
    }
    this.setState('closed');
  }
}
