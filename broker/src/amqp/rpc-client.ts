/**
 * The caller's side of RPC (docs/protocol.md §4): requests go to `<ns>.rpc` with
 * `mandatory`, replies come back by direct reply-to on the same channel, matched by
 * correlation id. One channel, one reply consumer, one map of pending calls.
 *
 * A request that comes back as `basic.return` found no queue: the service's auto-delete
 * queue is gone with its last server, so the call fails UNAVAILABLE at once. When the
 * channel dies the replies can never arrive (direct reply-to is bound to the channel):
 * every pending call fails UNAVAILABLE.
 *
 * While there is no channel (the connection is down) a call fails UNAVAILABLE at once,
 * unless it asked to `waitForReady`: then it waits in `waiting` and is sent when the next
 * channel is attached, or fails at its deadline. The SDK asks that for idempotent methods,
 * so their retry after a lost reply lands once the broker is back. Such a call that comes
 * back as `basic.return` (no queue: after a broker restart the servers re-declare their
 * auto-delete queues only when they reconnect, which may be after us) is sent again after
 * a short backoff until its deadline, as gRPC's waitForReady waits while no backend is
 * up. Sending it again is safe for any method: a returned request reached no server.
 */
import { randomBytes } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage, Message, Options } from 'amqplib';
import type { Codec, CodecRegistry } from '../codec.js';
import {
  CancelledError,
  ClosedError,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  isSwitchyardError,
  type SwitchyardError,
  UnavailableError,
} from '../errors.js';
import type { CallOptions, StreamCallOptions } from '../transport.js';
import type { ChannelOwner, RecoveringConnection } from './connection.js';
import { CONTROL, H, headerString, STATUS } from './headers.js';
import type { TransportLogger } from './options.js';
import { decodeErrorReply, type PendingReply, type ReplyRouter, StreamCall } from './stream.js';
import { DIRECT_REPLY_TO, type Topology } from './topology.js';

export const DEFAULT_STREAM_WINDOW = 16;
const MAX_STREAM_WINDOW = 10_000;
const EMPTY = Buffer.alloc(0);
const REOPEN_DELAY_MS = 500;
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Why a call failed when our own link to RabbitMQ was down or dropped (not the target's
 * fault): `details.reason` of those UNAVAILABLE errors, so circuit breakers can leave them out.
 */
const DISCONNECTED = 'disconnected';

function disconnected(message: string): SwitchyardError {
  return new UnavailableError(message, { details: { reason: DISCONNECTED } });
}

/** Backoff between sends of a `waitForReady` request that came back unroutable. */
const RETURNED_RETRY = { firstMs: 100, maxMs: 1_000 } as const;

/** A request held for the connection (`waitForReady`). */
interface WaitingRequest {
  readonly id: string;
  readonly call: PendingReply;
  readonly service: string;
  readonly method: string;
  readonly codec: Codec;
  readonly body: Buffer;
  readonly deadline: number;
  readonly options: CallOptions;
  readonly window: number | undefined;
  /** Times it came back unroutable. */
  returns: number;
}

export interface RpcClientOptions {
  conn: RecoveringConnection;
  topology: Topology;
  codecs: CodecRegistry;
  logger: TransportLogger;
  defaultTimeoutMs: number;
}

class UnaryCall implements PendingReply {
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly client: RpcClient,
    readonly id: string,
    readonly service: string,
    readonly method: string,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (err: unknown) => void,
    timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(UnaryCall.onDeadline, timeoutMs, this);
    if (signal) {
      this.onAbort = () => this.fail(new CancelledError('call cancelled by the caller'));
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  private static onDeadline(call: UnaryCall): void {
    call.fail(
      new DeadlineExceededError(`no reply from ${call.service}.${call.method} before the deadline`, {
        details: { service: call.service, method: call.method },
      }),
    );
  }

  onReply(msg: ConsumeMessage): void {
    this.release();
    const status = headerString(msg.properties.headers as Record<string, unknown> | undefined, H.status);
    if (status === STATUS.ok) {
      let value: unknown;
      try {
        value = this.client.codecs.decode(msg.content, msg.properties.contentType as string | undefined);
      } catch {
        this.reject(new InternalError(`undecodable reply from ${this.service}.${this.method}`));
        return;
      }
      this.resolve(value);
    } else if (status === STATUS.error) {
      this.reject(decodeErrorReply(msg));
    } else {
      this.reject(new InternalError(`unexpected reply status ${JSON.stringify(status)}`));
    }
  }

  onReturn(): void {
    this.fail(new UnavailableError(`no server for service "${this.service}"`, { details: { service: this.service } }));
  }

  fail(err: SwitchyardError): void {
    if (!this.client.isPending(this.id, this)) return;
    this.release();
    this.reject(err);
  }

  private release(): void {
    clearTimeout(this.timer);
    if (this.signal && this.onAbort) this.signal.removeEventListener('abort', this.onAbort);
    this.client.release(this.id, this);
  }
}

export class RpcClient implements ChannelOwner, ReplyRouter {
  readonly codecs: CodecRegistry;
  private ch: Channel | undefined;
  private readonly pending = new Map<string, PendingReply>();
  /** Random per client, so correlation ids never collide across processes; a counter within. */
  private readonly idPrefix = randomBytes(9).toString('base64url');
  private counter = 0;
  private closed = false;
  /** Calls made with `waitForReady` while there was no channel, in call order. */
  private waiting: WaitingRequest[] = [];
  /** `waitForReady` calls sent and not settled, by id: sent again when they come back unroutable. */
  private readonly resendable = new Map<string, WaitingRequest>();
  private reopenTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RpcClientOptions) {
    this.codecs = opts.codecs;
  }

  start(): Promise<void> {
    return this.opts.conn.add(this);
  }

  async attach(model: ChannelModel): Promise<void> {
    if (this.closed) return;
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.opts.logger.warn({ err }, 'rpc client channel error'));
    ch.on('close', () => this.onChannelClose(ch, model));
    ch.on('return', this.onReturn);
    // Direct reply-to: consume before publishing any request on this channel.
    await ch.consume(DIRECT_REPLY_TO, this.onReply, { noAck: true });
    this.ch = ch;
    if (this.waiting.length > 0) this.sendWaiting(ch);
  }

  private sendWaiting(ch: Channel): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) {
      // Failed meanwhile (deadline, abort): nothing to send.
      if (!this.isPending(w.id, w.call)) continue;
      const left = w.deadline - Date.now();
      if (left <= 0) continue; // its deadline timer fails it
      this.send(ch, w, left);
    }
  }

  private onChannelClose(ch: Channel, model: ChannelModel): void {
    if (this.ch !== ch) return;
    this.ch = undefined;
    this.failAll(disconnected('connection to RabbitMQ lost; the reply cannot arrive'));
    if (!this.closed && this.opts.conn.isCurrent(model)) {
      clearTimeout(this.reopenTimer);
      this.reopenTimer = setTimeout(() => {
        if (this.ch || this.closed || !this.opts.conn.isCurrent(model)) return;
        this.attach(model).catch((err: Error) => this.opts.logger.warn({ err }, 'cannot reopen the rpc channel'));
      }, REOPEN_DELAY_MS);
      this.reopenTimer.unref();
    }
  }

  private readonly onReply = (msg: ConsumeMessage | null): void => {
    if (!msg) return;
    const call = this.pending.get(msg.properties.correlationId as string);
    if (call) call.onReply(msg);
    else if (headerString(msg.properties.headers as Record<string, unknown> | undefined, H.status) === STATUS.open) {
      // A bidi stream opened for a call we gave up: tell that server now rather than let it wait out the heartbeat.
      const replyTo = msg.properties.replyTo as string | undefined;
      if (replyTo) this.sendControl(replyTo, msg.properties.correlationId as string, { [H.control]: CONTROL.cancel });
    } else this.opts.logger.debug({ correlationId: msg.properties.correlationId }, 'late reply dropped');
  };

  private readonly onReturn = (msg: Message): void => {
    const id = msg.properties.correlationId as string;
    const request = this.resendable.size > 0 ? this.resendable.get(id) : undefined;
    if (request && this.isPending(id, request.call)) this.resendLater(request);
    else this.pending.get(id)?.onReturn();
  };

  private resendLater(w: WaitingRequest): void {
    const delay = Math.min(RETURNED_RETRY.firstMs * 2 ** w.returns++, RETURNED_RETRY.maxMs);
    if (Date.now() + delay >= w.deadline) {
      w.call.onReturn(); // no time left for another try: "no server", as without waitForReady
      return;
    }
    setTimeout(() => {
      if (this.closed || !this.isPending(w.id, w.call)) return;
      this.send(this.ch, w, Math.max(1, w.deadline - Date.now()));
    }, delay).unref();
  }

  isPending(id: string, call: PendingReply): boolean {
    return this.pending.get(id) === call;
  }

  release(id: string, call: PendingReply): void {
    if (this.pending.get(id) === call) {
      this.pending.delete(id);
      if (this.resendable.size > 0) this.resendable.delete(id);
    }
  }

  sendControl(replyTo: string, correlationId: string, headers: Record<string, string>): void {
    try {
      this.ch?.publish('', replyTo, EMPTY, { correlationId, headers });
    } catch {
      // channel closing: the stream fails with it
    }
  }

  nextId(): string {
    return `${this.idPrefix}.${(++this.counter).toString(36)}`;
  }

  /** The channel requests go out on; undefined while disconnected or closed. */
  get channel(): Channel | undefined {
    return this.closed ? undefined : this.ch;
  }

  /** Route replies with `id` to `call` until it is released (bidi calls, bidi-client.ts). */
  track(id: string, call: PendingReply): void {
    this.pending.set(id, call);
  }

  /** Publish a message to a reply address (a bidi stream's frames); false when it could not go out. */
  sendTo(replyTo: string, body: Buffer, props: Options.Publish): boolean {
    const ch = this.ch;
    if (!ch) return false;
    try {
      ch.publish('', replyTo, body, props);
      return true;
    } catch {
      return false;
    }
  }

  /** Everything a request needs, or the error that stops it before it is sent. */
  private prepare(
    payload: unknown,
    options: CallOptions,
  ): { ch: Channel | undefined; codec: Codec; body: Buffer; timeoutMs: number; deadline: number } | SwitchyardError {
    if (this.closed) return new ClosedError('transport closed');
    if (options.waitForReady !== undefined && typeof options.waitForReady !== 'boolean')
      return new InvalidArgumentError(`waitForReady must be a boolean, got ${JSON.stringify(options.waitForReady)}`);
    const ch = this.ch;
    if (!ch && !options.waitForReady) return disconnected('not connected to RabbitMQ');
    const { timeoutMs = this.opts.defaultTimeoutMs, deadline: absolute } = options;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0))
      return new InvalidArgumentError(`timeoutMs must be a positive number, got ${JSON.stringify(timeoutMs)}`);
    if (absolute !== undefined && (typeof absolute !== 'number' || !Number.isFinite(absolute)))
      return new InvalidArgumentError(`deadline must be a time in ms since the epoch, got ${JSON.stringify(absolute)}`);
    const now = Date.now();
    // Timers cannot wait longer than ~24.8 days; nobody waits for a reply that long.
    let deadline = Math.floor(now + Math.min(timeoutMs, MAX_TIMEOUT_MS));
    if (absolute !== undefined && absolute < deadline) deadline = Math.floor(absolute);
    if (!(deadline > now)) return new DeadlineExceededError('the deadline passed before the call was sent');
    if (options.signal?.aborted) return new CancelledError('call cancelled by the caller');
    let codec: Codec;
    let body: Buffer;
    try {
      codec = options.contentType ? this.codecs.get(options.contentType) : this.codecs.default;
      body = codec.encode(payload);
    } catch (err) {
      if (isSwitchyardError(err)) return new InvalidArgumentError(err.message);
      return new InvalidArgumentError(`payload cannot be encoded: ${(err as Error).message}`);
    }
    return { ch, codec, body, timeoutMs: deadline - now, deadline };
  }

  private requestProps(
    id: string,
    method: string,
    codec: Codec,
    timeoutMs: number,
    deadline: number,
    options: CallOptions,
  ): Options.Publish {
    const headers: Record<string, string> = { ...options.headers, [H.method]: method, [H.deadline]: String(deadline) };
    return {
      mandatory: true,
      replyTo: DIRECT_REPLY_TO,
      correlationId: id,
      messageId: id,
      contentType: codec.contentType,
      deliveryMode: 1,
      expiration: String(timeoutMs),
      timestamp: Math.floor(Date.now() / 1000),
      headers,
    };
  }

  call(service: string, method: string, payload: unknown, options: CallOptions = {}): Promise<unknown> {
    const ready = this.prepare(payload, options);
    if (ready instanceof Error) return Promise.reject(ready);
    const { ch, codec, body, timeoutMs, deadline } = ready;
    const id = this.nextId();
    return new Promise((resolve, reject) => {
      const call = new UnaryCall(this, id, service, method, resolve, reject, timeoutMs, options.signal);
      this.pending.set(id, call);
      // The common case stays free of the record a held or re-sent request needs.
      if (ch && !options.waitForReady) {
        const props = this.requestProps(id, method, codec, timeoutMs, deadline, options);
        if (!this.publish(ch, service, body, props))
          call.fail(disconnected('connection to RabbitMQ lost before the request was sent'));
        return;
      }
      const r = { id, call, service, method, codec, body, deadline, options, window: undefined, returns: 0 };
      this.send(ch, r, timeoutMs);
    });
  }

  /** False when nothing went out: the channel is closing under us. */
  publish(ch: Channel, service: string, body: Buffer, props: Options.Publish): boolean {
    try {
      ch.publish(this.opts.topology.rpcExchange, service, body, props);
      return true;
    } catch {
      return false;
    }
  }

  /** Publish a request now, or hold it for the next channel (`waitForReady`, no channel). */
  private send(ch: Channel | undefined, r: WaitingRequest, timeoutMs: number): void {
    if (ch) {
      const props = this.requestProps(r.id, r.method, r.codec, timeoutMs, r.deadline, r.options);
      if (r.window !== undefined) (props.headers as Record<string, string>)[H.streamWindow] = String(r.window);
      if (this.publish(ch, r.service, r.body, props)) {
        if (r.options.waitForReady) this.resendable.set(r.id, r);
        return;
      }
      if (!r.options.waitForReady) {
        r.call.fail(disconnected('connection to RabbitMQ lost before the request was sent'));
        return;
      }
    }
    this.waiting.push(r);
  }

  stream(
    service: string,
    method: string,
    payload: unknown,
    options: StreamCallOptions = {},
  ): AsyncIterableIterator<unknown> {
    const window = options.window ?? DEFAULT_STREAM_WINDOW;
    if (!Number.isInteger(window) || window < 1 || window > MAX_STREAM_WINDOW)
      return StreamCall.failed(new InvalidArgumentError(`window must be an integer 1-${MAX_STREAM_WINDOW}`));
    const ready = this.prepare(payload, options);
    if (ready instanceof Error) return StreamCall.failed(ready);
    const { ch, codec, body, timeoutMs, deadline } = ready;
    const id = this.nextId();
    const call = new StreamCall(this, id, service, method, window, timeoutMs, options.signal);
    this.pending.set(id, call);
    this.send(ch, { id, call, service, method, codec, body, deadline, options, window, returns: 0 }, timeoutMs);
    return call;
  }

  private failAll(err: SwitchyardError): void {
    for (const call of [...this.pending.values()]) call.fail(err);
    this.pending.clear();
    this.waiting = [];
    this.resendable.clear();
  }

  /** Fail pending calls with UNAVAILABLE and close the channel. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.opts.conn.remove(this);
    clearTimeout(this.reopenTimer);
    this.failAll(new UnavailableError('transport closed before the reply arrived'));
    const ch = this.ch;
    this.ch = undefined;
    await ch?.close().catch(() => {});
  }
}
