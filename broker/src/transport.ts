/**
 * The Transport interface: events and RPC, independent of the wire.
 *
 * Two implementations live side by side: `AmqpTransport` (RabbitMQ, the real path,
 * wire format in docs/protocol.md) and `MemoryTransport` (in-process, the embedded
 * default for `npm start` and unit tests). One contract test suite runs against both,
 * so their semantics match: competing groups, ack-after-success, retry then
 * dead-letter, deadlines, fail-fast when nobody serves, streaming with cancel.
 */
import type { Codec } from './codec.js';
import type { SwitchyardError } from './errors.js';

export type TransportState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

/** String headers that travel with every message (W3C `traceparent`, caller identity, ...). */
export type Headers = Record<string, string>;

// ---------------------------------------------------------------------------------
// Events

export interface PublishOptions {
  /** Extra headers, e.g. `traceparent`. */
  headers?: Headers;
  /** Message id; default a random UUID. Subscribers see it and may use it to de-duplicate. */
  messageId?: string;
  /** Codec for this message; default the transport's default codec (JSON). */
  contentType?: string;
  /** Name of the publishing service, sent as header `x-source`. */
  source?: string;
}

export interface PublishReceipt {
  messageId: string;
}

export interface IncomingEvent {
  /** The message id given by the publisher (stable across retries and redeliveries). */
  id: string;
  topic: string;
  payload: unknown;
  headers: Headers;
  contentType: string;
  /** True when the broker delivered this message before (consumer died, connection dropped). */
  redelivered: boolean;
  /** 1 for the first delivery; n for the n-th attempt after handler failures. */
  attempt: number;
  /** Publish time (ms since epoch) when the publisher set it. */
  timestamp: number | undefined;
}

export type EventHandler = (event: IncomingEvent) => Promise<void> | void;

export interface RetryPolicy {
  /** Total handler attempts before the message is dead-lettered. Default 5. */
  attempts: number;
  /** Delay before the 2nd attempt, in ms. Default 1000. */
  initialDelayMs: number;
  /** Multiplier per further attempt. Default 2. */
  factor: number;
  /** Upper bound on one delay, in ms. Default 60000. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  attempts: 5,
  initialDelayMs: 1000,
  factor: 2,
  maxDelayMs: 60_000,
});

export type QueueType = 'quorum' | 'classic';

export interface SubscribeOptions {
  /**
   * Competing-consumer group. Instances subscribed with the same group share the
   * events (each event goes to one of them); every group gets every event.
   */
  group: string;
  /** Durable queue type. Default 'quorum'. */
  queueType?: QueueType;
  /** Partial retry policy merged over DEFAULT_RETRY_POLICY. */
  retry?: Partial<RetryPolicy>;
  /** Max unacked events handed to this subscriber at once. Default 100. */
  prefetch?: number;
  /**
   * Called with a decoded payload before the handler; throw (INVALID_ARGUMENT) to reject
   * it. Invalid events go straight to the dead-letter queue: retrying cannot fix them.
   */
  validate?: (payload: unknown) => void;
  /**
   * Delete the group's queue and its dead-letter queue this long after their last consumer
   * went away, ms (RabbitMQ `x-expires`), even when the subscriber was killed and never
   * cleaned up. For temporary subscribers (`switchyard subscribe`); default never. The
   * in-memory transport's queues live in the process anyway and ignore it.
   */
  expiresMs?: number;
}

export interface Subscription {
  readonly topic: string;
  readonly group: string;
  /** Name of the dead-letter queue (for operators and tests). */
  readonly deadLetterQueue: string;
  /** Stop taking new events and wait for handlers in flight. Idempotent. */
  close(): Promise<void>;
}

/** Why a message was dead-lettered: header `x-death-reason` on the dead-lettered copy. */
export type DeathReason = 'handler-failed' | 'invalid' | 'undecodable' | 'delivery-limit' | 'refused';

/**
 * A handler error that retrying cannot fix because the sender is not allowed to send it
 * (UNAUTHENTICATED, PERMISSION_DENIED): the event is dead-lettered at once, reason `refused`.
 */
export function isRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UNAUTHENTICATED' || code === 'PERMISSION_DENIED';
}

// ---------------------------------------------------------------------------------
// RPC

export interface CallOptions {
  /** Relative timeout in ms. Default 30000. Ignored when `deadline` is earlier. */
  timeoutMs?: number;
  /** Absolute deadline (ms since epoch), e.g. inherited from the caller's caller. */
  deadline?: number;
  headers?: Headers;
  contentType?: string;
  signal?: AbortSignal;
  /**
   * While the transport is disconnected from its broker, hold the call until the
   * connection is back (or the deadline passes) instead of failing it UNAVAILABLE at once;
   * and while the service has no request queue (its servers have not declared it again
   * since a broker restart), send it again after a short backoff for as long as the
   * deadline leaves time. Only the sending waits: a call in flight when the connection
   * drops still fails UNAVAILABLE, since the request may have run. gRPC's `waitForReady`.
   * Default false. The memory transport is never disconnected while started, and fails a
   * call to a service without servers at once, as without it.
   */
  waitForReady?: boolean;
}

export interface StreamCallOptions extends CallOptions {
  /** Items the caller buffers before the server must wait for credit. Default 16. */
  window?: number;
}

/** The kinds of bidirectional call (docs/protocol.md §9): items both ways, or many in and one reply. */
export type BidiKind = 'bidi' | 'client';

export interface BidiCallOptions extends Omit<CallOptions, 'waitForReady'> {
  /**
   * Bound on the whole stream, in ms. Unlike a unary call a bidi stream has **no default
   * deadline**: it lasts until it ends, is cancelled, or the heartbeat finds its peer lost.
   */
  timeoutMs?: number;
  /** Items of the server the caller buffers before the server must wait for credit. Default 16. */
  window?: number;
  /**
   * Each side hears from the other at least this often (items, credit or pings); silence
   * for this long means the peer is lost and the stream fails UNAVAILABLE. Also how long
   * the caller waits for a server to open the stream. ms, >= 100. Default 10000.
   */
  heartbeatMs?: number;
  /** 'bidi' (default): items both ways; 'client': many items in, one reply out. */
  kind?: BidiKind;
}

/**
 * The caller's side of a bidi or client-streaming call. Iterate it for the server's items
 * (a client-streaming call yields its one reply); `break` cancels. `send()` resolves once
 * the item went out, which waits for the server's credit: awaiting it is the backpressure.
 */
export interface BidiCall extends AsyncIterableIterator<unknown> {
  /** Correlation id of the call. */
  readonly id: string;
  /**
   * Send one item. Rejects when the stream is over (with its error, or FAILED_PRECONDITION
   * after the server ended it), after `end()`, with INVALID_ARGUMENT when the item cannot
   * be encoded, and with BUFFER_FULL when more than 1000 sends wait for credit.
   */
  send(item: unknown): Promise<void>;
  /** Half-close: no more items. Resolves once every queued item and the end went out. Idempotent. */
  end(): Promise<void>;
  /** Stop both directions: the server aborts its handler; waiting `next()` and `send()` reject CANCELLED. Idempotent. */
  cancel(reason?: string): void;
}

export interface IncomingRequest {
  /** Correlation id of this call. */
  id: string;
  service: string;
  method: string;
  payload: unknown;
  headers: Headers;
  contentType: string;
  /** Absolute deadline, ms since epoch; undefined when the caller set none. */
  deadline: number | undefined;
  /** Aborted at the deadline, on stream cancel, or when the server closes hard. */
  signal: AbortSignal;
  /** True when the broker delivered this request before (an instance died mid-call). */
  redelivered: boolean;
  /**
   * Bidi and client-streaming methods: the caller's items, in order, each already checked
   * by `validateRequest`. Ends when the caller half-closes; throws when the stream fails
   * (cancel, deadline, lost caller, invalid item). Consuming an item grants the caller
   * credit for one more. Undefined for other kinds.
   */
  input?: AsyncIterableIterator<unknown>;
}

/** A method's result: a value, or an async iterable for server-streaming methods. */
export type MethodResult = unknown;

export interface MethodDefinition {
  handler: (request: IncomingRequest) => Promise<MethodResult> | MethodResult;
  /** Throw (INVALID_ARGUMENT) for an invalid request; the handler then never runs. */
  validateRequest?: (payload: unknown) => void;
  /** Throw for an invalid reply; the caller gets INTERNAL instead of bad data. */
  validateResponse?: (payload: unknown) => void;
  /** Marks a server-streaming method (its handler returns an AsyncIterable). */
  streaming?: boolean;
  /**
   * Marks a bidi method (its handler reads `request.input` and returns an AsyncIterable)
   * or a client-streaming one (it reads `request.input` and returns one value). For these
   * kinds `validateRequest` checks every input item and `validateResponse` every output
   * item; a failure ends the stream with INVALID_ARGUMENT naming the item's `seq`.
   */
  bidi?: BidiKind;
  /** Bidi and client-streaming methods: caller items buffered before the caller must wait for credit. Default 16. */
  inputWindow?: number;
}

export interface ServeOptions {
  /** Max requests handled at once by this server instance. Default 100. */
  prefetch?: number;
}

export interface Server {
  readonly service: string;
  /** Stop taking requests, finish those in flight, then release the queue. Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------

export interface TransportEvents {
  state: (state: TransportState) => void;
  /** Something went wrong that did not fail a caller (a consumer recovered, a reply was late, ...). */
  error: (err: SwitchyardError | Error) => void;
}

export interface Transport {
  /** 'amqp' or 'memory'. */
  readonly kind: string;
  readonly state: TransportState;
  readonly namespace: string;

  /** Connect and declare the shared topology. Idempotent. */
  start(): Promise<void>;
  /**
   * Graceful: stop consumers, wait for handlers in flight, fail pending calls with
   * UNAVAILABLE, wait for pending publish confirms, then close connections. Idempotent.
   */
  close(): Promise<void>;

  /** Resolves once RabbitMQ (or the in-memory bus) confirms the event; rejects UNROUTABLE when no group subscribes to the topic. */
  publish(topic: string, payload: unknown, options?: PublishOptions): Promise<PublishReceipt>;
  /** Subscribe a group to a topic pattern (`*` one word, `#` zero or more, dot-separated). */
  subscribe(topic: string, handler: EventHandler, options: SubscribeOptions): Promise<Subscription>;

  /** Serve methods of a service: this instance becomes one competing consumer of its request queue. */
  serve(service: string, methods: Record<string, MethodDefinition>, options?: ServeOptions): Promise<Server>;
  /** Unary call. Rejects with the remote error (typed, by code), DEADLINE_EXCEEDED, or UNAVAILABLE. */
  call(service: string, method: string, payload: unknown, options?: CallOptions): Promise<unknown>;
  /** Server-streaming call. Breaking out of the loop cancels the stream on the server. */
  stream(
    service: string,
    method: string,
    payload: unknown,
    options?: StreamCallOptions,
  ): AsyncIterableIterator<unknown>;

  /**
   * Open a bidi or client-streaming call (docs/protocol.md §9). Never throws: a failure to
   * open (no server, closed transport, bad options) comes out of the first `next()` or `send()`.
   */
  bidi(service: string, method: string, options?: BidiCallOptions): BidiCall;

  on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this;
  off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this;
}

export type { Codec };
