import type { Headers, IncomingEvent, PublishReceipt } from '@switchyard/broker';
import type { Logger } from 'pino';
import { AUTH_HEADER } from '../auth/auth-headers.js';
import { identityOf, type VerifiedIdentity } from '../auth/message-guard.js';
import type { Cache } from '../cache/cache.js';
import type { DynamicConfig } from '../dynamic-config/dynamic-config.js';
import type { Store } from '../store/store.js';
import type { Sync } from '../sync/sync.js';
import type { ContextHost, EmitOptions, ParentContext, ServiceCallOptions } from './context-host.js';
import { callerOf, HEADER } from './headers.js';
import { continueTrace, type TraceContext } from './trace-context.js';

/** What an event handler gets besides the payload. */
export interface EventContext extends ParentContext {
  readonly service: string;
  readonly topic: string;
  /** The publisher's message id: stable across retries and redeliveries (de-duplicate on it). */
  readonly eventId: string;
  /** 1 for the first delivery, n for the n-th attempt after failures. */
  readonly attempt: number;
  readonly redelivered: boolean;
  /** Events carry no deadline; calls made while handling one use the service's default timeout. */
  readonly deadline: undefined;
  readonly trace: TraceContext;
  /** Header `x-caller` of the publisher, else the publishing service (`x-source`). */
  readonly caller: string | undefined;
  /** The publishing service (header `x-source`). */
  readonly source: string | undefined;
  readonly headers: Readonly<Headers>;
  /** With auth on: the verified publishing service, end user and the principal the rules were checked for. */
  readonly identity: VerifiedIdentity | undefined;
  readonly logger: Logger;
  /** Records of state that outlive the call (the infrastructure's store, SWITCHYARD_STORE). */
  readonly store: Store;
  /** The infrastructure's cache (SWITCHYARD_CACHE). */
  readonly cache: Cache;
  /** Locks and leader election (etcd with servers). */
  readonly sync: Sync;
  /** The service's dynamic config: `ctx.config.get('features.checkout')` reads the value in force now. */
  readonly config: DynamicConfig;
  call<T = unknown>(target: string, payload: unknown, options?: ServiceCallOptions): Promise<T>;
  emit(topic: string, payload: unknown, options?: EmitOptions): Promise<PublishReceipt>;
}

export class IncomingEventContext implements EventContext {
  readonly trace: TraceContext;
  readonly deadline = undefined;
  private childLogger: Logger | undefined;

  /** `trace`: the handler span's, when tracing is on; else a new span id in the publisher's trace. */
  constructor(
    private readonly host: ContextHost,
    private readonly event: IncomingEvent,
    trace?: TraceContext,
  ) {
    this.trace = trace ?? continueTrace(event.headers[HEADER.traceparent]);
  }

  get service(): string {
    return this.host.name;
  }

  get topic(): string {
    return this.event.topic;
  }

  get eventId(): string {
    return this.event.id;
  }

  get attempt(): number {
    return this.event.attempt;
  }

  get redelivered(): boolean {
    return this.event.redelivered;
  }

  get caller(): string | undefined {
    return callerOf(this.event.headers);
  }

  get source(): string | undefined {
    return this.event.headers[HEADER.source];
  }

  get headers(): Readonly<Headers> {
    return this.event.headers;
  }

  get userToken(): string | undefined {
    return this.event.headers[AUTH_HEADER.userToken];
  }

  get identity(): VerifiedIdentity | undefined {
    return identityOf(this.event);
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
      topic: this.event.topic,
      eventId: this.event.id,
      traceId: this.trace.traceId,
      spanId: this.trace.spanId,
    });
    return this.childLogger;
  }

  call<T = unknown>(target: string, payload: unknown, options?: ServiceCallOptions): Promise<T> {
    return this.host.call(target, payload, options, this) as Promise<T>;
  }

  emit(topic: string, payload: unknown, options?: EmitOptions): Promise<PublishReceipt> {
    return this.host.emit(topic, payload, options, this);
  }
}
