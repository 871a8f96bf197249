import type { Headers, PublishReceipt } from '@switchyard/broker';
import type { Logger } from 'pino';
import type { Cache } from '../cache/cache.js';
import type { DynamicConfig } from '../dynamic-config/dynamic-config.js';
import type { Store } from '../store/store.js';
import type { Sync } from '../sync/sync.js';
import type { TraceContext } from './trace-context.js';

/** Options of an outgoing call made with `service.call()` or `ctx.call()`. */
export interface ServiceCallOptions {
  /** Relative timeout, ms. Default: the service's `calls.timeoutMs` (10000). An inherited deadline that is earlier wins. */
  timeoutMs?: number;
  /** Absolute deadline, ms since the epoch. The earliest of this, `timeoutMs` and the inherited deadline wins. */
  deadline?: number;
  /** Treat the method as idempotent (safe to retry after it may have run). Default: what the target registered. */
  idempotent?: boolean;
  /** Attempts, first included, for this call; 1 disables retries. Default: the service's `calls.retry.attempts`. */
  attempts?: number;
  /** Extra headers sent with the request. */
  headers?: Headers;
  /** Cancels the call (and its retries) with CANCELLED. */
  signal?: AbortSignal;
  /** Continue this W3C trace (top-level calls only; `ctx.call` continues the handler's trace). */
  traceparent?: string;
  /** Identity the call is made on behalf of (header `x-caller`), e.g. the JWT subject a gateway verified. Default: the handler's caller, else this service's name. */
  caller?: string;
  /** Payload encoding, e.g. `application/msgpack`. Default: the transport's (JSON). */
  contentType?: string;
}

/** Options of `service.stream()` / `ctx.stream()`: a unary call's, without retries, plus the credit window. */
export interface ServiceStreamOptions {
  /** Relative timeout of the whole stream, ms. Default: the service's `calls.timeoutMs`. An inherited deadline that is earlier wins. */
  timeoutMs?: number;
  /** Absolute deadline of the whole stream, ms since the epoch. */
  deadline?: number;
  /** Items the server may send ahead of what this caller consumed (backpressure). Default 16. */
  window?: number;
  headers?: Headers;
  /** Cancels the stream on the server; the iterator then throws CANCELLED. */
  signal?: AbortSignal;
  /** Continue this W3C trace (top-level streams only; `ctx.stream` continues the handler's trace). */
  traceparent?: string;
  /** Identity the stream is opened on behalf of (header `x-caller`). Default: the handler's caller, else this service's name. */
  caller?: string;
  /** Payload encoding, e.g. `application/msgpack`. Default: the transport's (JSON). */
  contentType?: string;
  /** Check each item against the item schema the target registered, when that schema is loaded here. Default true. */
  validateItems?: boolean;
}

/**
 * Options of `service.bidi()` / `service.clientStream()` (and `ctx.`): no retries, and —
 * unlike a unary call or a server stream — **no default deadline**: a bidi stream lasts
 * until it ends, is cancelled, or the heartbeat finds its peer lost. A deadline inherited
 * from the handler's request still bounds it.
 */
export interface ServiceBidiOptions {
  /** Relative bound on the whole stream, ms. Default none. */
  timeoutMs?: number;
  /** Absolute bound on the whole stream, ms since the epoch. The earliest of this, `timeoutMs` and the inherited deadline wins. */
  deadline?: number;
  /** Server items buffered here before the server must wait for credit (backpressure). Default 16. */
  window?: number;
  /** Silence from the server for this long (no item, credit or ping) means it is lost: UNAVAILABLE. ms, >= 100. Default 10000. */
  heartbeatMs?: number;
  headers?: Headers;
  /** Cancels the stream on the server; waiting `next()` and `send()` reject CANCELLED. */
  signal?: AbortSignal;
  /** Continue this W3C trace (top-level streams only; `ctx.bidi` continues the handler's trace). */
  traceparent?: string;
  /** Identity the stream is opened on behalf of (header `x-caller`). Default: the handler's caller, else this service's name. */
  caller?: string;
  /** Item encoding, both ways, e.g. `application/msgpack`. Default: the transport's (JSON). */
  contentType?: string;
  /** Check each received item (or the reply) against the `response` schema the target registered, when it is loaded here. Default true. */
  validateItems?: boolean;
}

/**
 * The caller's side of a bidi stream: `send()` each item (awaiting it is the backpressure:
 * it resolves once the server granted room for it), `end()` to half-close, iterate the
 * server's items (`break` cancels), or `cancel()` both directions.
 */
export interface ServiceBidiCall<In = unknown, Out = unknown> extends AsyncIterableIterator<Out> {
  /** Correlation id of the call ('' until it opened). */
  readonly id: string;
  /** Rejects INVALID_ARGUMENT (`details: { seq, direction: 'request', violations }`) for an item that fails the target's request schema, and the stream is cancelled; else as the transport's `BidiCall.send`. */
  send(item: In): Promise<void>;
  /** Half-close: the server's input ends after the items sent; its items still come. Idempotent. */
  end(): Promise<void>;
  /** Stop both directions: the server's handler sees its signal abort. Idempotent. */
  cancel(reason?: string): void;
}

/** The caller's side of a client stream: `send()` the items, then `end()` resolves to the one reply. */
export interface ServiceClientStream<In = unknown, Res = unknown> {
  readonly id: string;
  send(item: In): Promise<void>;
  /** Half-close and wait for the reply (checked against the registered `response` schema). */
  end(): Promise<Res>;
  cancel(reason?: string): void;
}

/** Options of `service.emit()` / `ctx.emit()`. */
export interface EmitOptions {
  headers?: Headers;
  /** Default: a random UUID. Subscribers may use it to de-duplicate. */
  messageId?: string;
  /** Continue this W3C trace (top-level emits only). */
  traceparent?: string;
  contentType?: string;
}

/** What an outgoing call or event inherits from the request or event being handled. */
export interface ParentContext {
  readonly deadline: number | undefined;
  readonly trace: TraceContext;
  readonly caller: string | undefined;
  /** The end user's access token (header `x-switchyard-user-token`), passed on so the next hop can verify who the call is for. */
  readonly userToken: string | undefined;
}

/** The service as its contexts see it: where ctx.call/ctx.emit go and the logger they derive from. */
export interface ContextHost {
  readonly name: string;
  readonly logger: Logger;
  /** The infrastructure's store, for handlers' `ctx.store`. */
  readonly store: Store;
  /** The infrastructure's cache, for handlers' `ctx.cache`. */
  readonly cache: Cache;
  /** The infrastructure's locks and elections, for handlers' `ctx.sync`. */
  readonly sync: Sync;
  /** The service's dynamic config, for handlers' `ctx.config`. */
  readonly config: DynamicConfig;
  call(
    target: string,
    payload: unknown,
    options: ServiceCallOptions | undefined,
    parent: ParentContext | undefined,
  ): Promise<unknown>;
  emit(
    topic: string,
    payload: unknown,
    options: EmitOptions | undefined,
    parent: ParentContext | undefined,
  ): Promise<PublishReceipt>;
  stream(
    target: string,
    payload: unknown,
    options: ServiceStreamOptions | undefined,
    parent: ParentContext | undefined,
  ): AsyncIterableIterator<unknown>;
  bidi(target: string, options: ServiceBidiOptions | undefined, parent: ParentContext | undefined): ServiceBidiCall;
  clientStream(
    target: string,
    options: ServiceBidiOptions | undefined,
    parent: ParentContext | undefined,
  ): ServiceClientStream;
}
