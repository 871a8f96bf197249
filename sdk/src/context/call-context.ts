import type { Headers, IncomingRequest, PublishReceipt } from '@switchyard/broker';
import type { Logger } from 'pino';
import { AUTH_HEADER } from '../auth/auth-headers.js';
import { identityOf, type VerifiedIdentity } from '../auth/message-guard.js';
import type { Cache } from '../cache/cache.js';
import type { DynamicConfig } from '../dynamic-config/dynamic-config.js';
import type { Store } from '../store/store.js';
import type { Sync } from '../sync/sync.js';
import type {
  ContextHost,
  EmitOptions,
  ParentContext,
  ServiceBidiCall,
  ServiceBidiOptions,
  ServiceCallOptions,
  ServiceClientStream,
  ServiceStreamOptions,
} from './context-host.js';
import { callerOf, HEADER } from './headers.js';
import { continueTrace, formatTraceparent, type TraceContext } from './trace-context.js';

/** What a method handler gets besides the payload. */
export interface CallContext extends ParentContext {
  /** This service's name. */
  readonly service: string;
  readonly method: string;
  /** The call's correlation id. */
  readonly requestId: string;
  /** Absolute deadline set by the caller (or the caller's caller), ms since the epoch; undefined when none. */
  readonly deadline: number | undefined;
  /** This hop's trace: the caller's trace id, a new span id. */
  readonly trace: TraceContext;
  /** Header `x-caller` (the end identity a gateway verified), else `x-source` (the calling service). */
  readonly caller: string | undefined;
  /** Header `x-source`: the service that sent the request, when it said. */
  readonly source: string | undefined;
  readonly headers: Readonly<Headers>;
  /** With auth on: the verified sending service, end user and the principal the rules were checked for. */
  readonly identity: VerifiedIdentity | undefined;
  /** True when this request was handed over after the instance that had it died. */
  readonly redelivered: boolean;
  /** Aborted at the deadline, or when the server closes hard. */
  readonly signal: AbortSignal;
  /** pino child logger bound to service, method, request id, trace and span ids. */
  readonly logger: Logger;
  /** Records of state that outlive the call (the infrastructure's store, SWITCHYARD_STORE). */
  readonly store: Store;
  /** The infrastructure's cache (SWITCHYARD_CACHE). */
  readonly cache: Cache;
  /** Locks and leader election (etcd with servers). */
  readonly sync: Sync;
  /** The service's dynamic config: `ctx.config.get('features.checkout')` reads the value in force now. */
  readonly config: DynamicConfig;
  /** ms left before the deadline (Infinity when none). */
  timeLeftMs(): number;
  /** Call another service; deadline, trace and caller identity go along. */
  call<T = unknown>(target: string, payload: unknown, options?: ServiceCallOptions): Promise<T>;
  /** Emit a declared event in this trace. */
  emit(topic: string, payload: unknown, options?: EmitOptions): Promise<PublishReceipt>;
  /** Open a server-streaming call to another service; deadline, trace and caller identity go along. */
  stream<T = unknown>(target: string, payload: unknown, options?: ServiceStreamOptions): AsyncIterableIterator<T>;
  /** Open a bidi stream to another service; deadline, trace and caller identity go along. */
  bidi<In = unknown, Out = unknown>(target: string, options?: ServiceBidiOptions): ServiceBidiCall<In, Out>;
  /** Open a client stream to another service; deadline, trace and caller identity go along. */
  clientStream<In = unknown, Res = unknown>(target: string, options?: ServiceBidiOptions): ServiceClientStream<In, Res>;
}

/**
 * The context of one request. Built per call, so it holds only references: the child
 * logger and the traceparent string are made on first use (most handlers never log).
 */
export class RequestContext implements CallContext {
  private currentTrace: TraceContext | undefined;
  private childLogger: Logger | undefined;

  /** `trace`: the server span's, when tracing is on; else made from the request's `traceparent` on first use. */
  constructor(
    private readonly host: ContextHost,
    readonly method: string,
    private readonly request: IncomingRequest,
    trace?: TraceContext,
  ) {
    this.currentTrace = trace;
  }

  /** Made on first use: a handler that neither logs, calls nor emits never pays for the ids. */
  get trace(): TraceContext {
    this.currentTrace ??= continueTrace(this.request.headers[HEADER.traceparent]);
    return this.currentTrace;
  }

  get service(): string {
    return this.host.name;
  }

  get requestId(): string {
    return this.request.id;
  }

  get deadline(): number | undefined {
    return this.request.deadline;
  }

  get caller(): string | undefined {
    return callerOf(this.request.headers);
  }

  get source(): string | undefined {
    return this.request.headers[HEADER.source];
  }

  get headers(): Readonly<Headers> {
    return this.request.headers;
  }

  get userToken(): string | undefined {
    return this.request.headers[AUTH_HEADER.userToken];
  }

  get identity(): VerifiedIdentity | undefined {
    return identityOf(this.request);
  }

  get redelivered(): boolean {
    return this.request.redelivered;
  }

  get signal(): AbortSignal {
    return this.request.signal;
  }

  get store(): Store {
    return this.host.store;
  }

  get cache(): Cache {
    return this.host.cache;
  }

  get sync(): Sync {
    return this.host.sync;
  }

  get config(): DynamicConfig {
    return this.host.config;
  }

  get logger(): Logger {
    this.childLogger ??= this.host.logger.child({
      method: this.method,
      requestId: this.request.id,
      traceId: this.trace.traceId,
      spanId: this.trace.spanId,
    });
    return this.childLogger;
  }

  get traceparent(): string {
    return formatTraceparent(this.trace);
  }

  timeLeftMs(): number {
    const d = this.request.deadline;
    return d === undefined ? Number.POSITIVE_INFINITY : d - Date.now();
  }

  call<T = unknown>(target: string, payload: unknown, options?: ServiceCallOptions): Promise<T> {
    return this.host.call(target, payload, options, this) as Promise<T>;
  }

  emit(topic: string, payload: unknown, options?: EmitOptions): Promise<PublishReceipt> {
    return this.host.emit(topic, payload, options, this);
  }

  stream<T = unknown>(target: string, payload: unknown, options?: ServiceStreamOptions): AsyncIterableIterator<T> {
    return this.host.stream(target, payload, options, this) as AsyncIterableIterator<T>;
  }

  bidi<In = unknown, Out = unknown>(target: string, options?: ServiceBidiOptions): ServiceBidiCall<In, Out> {
    return this.host.bidi(target, options, this) as ServiceBidiCall<In, Out>;
  }

  clientStream<In = unknown, Res = unknown>(
    target: string,
    options?: ServiceBidiOptions,
  ): ServiceClientStream<In, Res> {
    return this.host.clientStream(target, options, this) as ServiceClientStream<In, Res>;
  }
}
