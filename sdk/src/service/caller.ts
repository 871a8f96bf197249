import {
  ClosedError,
  DeadlineExceededError,
  FailedPreconditionError,
  type Headers,
  InvalidArgumentError,
  isSwitchyardError,
  type Transport,
} from '@switchyard/broker';
import type { IBackoffFactory } from 'cockatiel';
import type { Logger } from 'pino';
import { AUTH_HEADER } from '../auth/auth-headers.js';
import type { ParentContext, ServiceCallOptions } from '../context/context-host.js';
import { HEADER } from '../context/headers.js';
import { continueTrace, formatTraceparent } from '../context/trace-context.js';
import type { CircuitBreakers } from '../resilience/circuit-breakers.js';
import { callDeadline } from '../resilience/deadline.js';
import { retryAfterFailure, retryBackoff } from '../resilience/retry.js';
import { isSafeToRetry } from '../resilience/retry-policy.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import type { SchemaValidator } from '../schemas/validator.js';
import { ATTR, messagingSystemOf, RPC_SYSTEM } from '../telemetry/semconv.js';
import { endWith, parentContextOf, SpanKind, startSpan, traceparentOf, tracingOn } from '../telemetry/spans.js';
import { type CallTarget, CallTargets } from './call-target.js';
import { checkPayload, checkReply } from './payload-check.js';
import { OK, type ServiceMetrics } from './service-metrics.js';
import type { ResolvedCallDefaults } from './service-options.js';
import type { TargetDirectory } from './target-directory.js';

export interface CallerDeps {
  service: string;
  transport: Transport;
  schemas: SchemaRegistry;
  directory: TargetDirectory;
  defaults: ResolvedCallDefaults;
  breakers: CircuitBreakers | undefined;
  metrics: ServiceMetrics | undefined;
  logger: Logger;
}

const NO_OPTIONS: ServiceCallOptions = Object.freeze({});

/**
 * The outgoing half of a service: resolve the target in the registry's cached view,
 * validate the payload against the target's request schema (an invalid payload is never
 * sent), then send through the target's circuit breaker with a deadline; on failure,
 * retry only when it is safe and time is left.
 */
export class Caller {
  readonly targets = new CallTargets();
  readonly backoff: IBackoffFactory<unknown>;
  /** The headers of a plain call (no options, no parent, no trace): one object for all of them; transports copy. */
  private readonly plainHeaders: Headers;
  private closed = false;

  constructor(readonly deps: CallerDeps) {
    this.backoff = retryBackoff(deps.defaults.retry);
    this.plainHeaders = Object.freeze({ [HEADER.source]: deps.service });
  }

  close(): void {
    this.closed = true;
  }

  /** Never throws: every failure, validation included, is a rejection. */
  call(
    target: string,
    payload: unknown,
    options: ServiceCallOptions | undefined,
    parent: ParentContext | undefined,
  ): Promise<unknown> {
    let call: OutgoingCall;
    let tracing: boolean;
    try {
      if (this.closed) throw new ClosedError(`service "${this.deps.service}" is closed`);
      const t = this.targets.parse(target);
      const o = options ?? NO_OPTIONS;
      const timeoutMs = o.timeoutMs ?? this.deps.defaults.timeoutMs;
      if (!(timeoutMs > 0))
        throw new InvalidArgumentError(`timeoutMs must be a positive number, got ${String(timeoutMs)}`);
      const deadline = callDeadline(Date.now(), timeoutMs, o.deadline, parent?.deadline);
      tracing = tracingOn();
      const headers =
        parent === undefined &&
        !tracing &&
        o.headers === undefined &&
        o.traceparent === undefined &&
        o.caller === undefined
          ? this.plainHeaders
          : this.headers(o, parent);
      call = new OutgoingCall(this, t, payload, deadline, headers, o);
    } catch (err) {
      return Promise.reject(err);
    }
    if (tracing) return this.traced(call, parent, call.options);
    return this.deps.metrics ? this.measured(call, this.deps.metrics) : this.run(call);
  }

  /**
   * With a tracer provider registered: one CLIENT span over the whole call, retries
   * included, and the span's own id in `traceparent`, so the server's span is its child.
   */
  private traced(call: OutgoingCall, parent: ParentContext | undefined, o: ServiceCallOptions): Promise<unknown> {
    const { service, method } = call.target;
    const span = startSpan(
      `${service}/${method}`,
      SpanKind.CLIENT,
      {
        [ATTR.rpcSystem]: RPC_SYSTEM,
        [ATTR.rpcService]: service,
        [ATTR.rpcMethod]: method,
        [ATTR.messagingSystem]: messagingSystemOf(this.deps.transport.kind),
      },
      parentContextOf(parent?.trace, o.traceparent),
    );
    call.headers[HEADER.traceparent] = traceparentOf(span);
    return endWith(span, this.deps.metrics ? this.measured(call, this.deps.metrics) : this.run(call));
  }

  private async measured(call: OutgoingCall, metrics: ServiceMetrics): Promise<unknown> {
    const { service, method } = call.target;
    const started = performance.now();
    try {
      const result = await this.run(call);
      metrics.called(service, method, OK, (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      metrics.called(
        service,
        method,
        isSwitchyardError(err) ? err.code : 'INTERNAL',
        (performance.now() - started) / 1000,
      );
      throw err;
    }
  }

  /** The first attempt, and the retry loop only after it failed. */
  private run(call: OutgoingCall): Promise<unknown> {
    let first: Promise<unknown>;
    try {
      first = call.attempt();
    } catch (err) {
      first = Promise.reject(err);
    }
    const attempts = call.options.attempts ?? this.deps.defaults.retry.attempts;
    return attempts <= 1 ? first : first.catch((err: unknown) => this.retry(call, err, attempts));
  }

  private retry(call: OutgoingCall, err: unknown, attempts: number): Promise<unknown> {
    return retryAfterFailure(
      err,
      () => call.attempt(),
      {
        options:
          attempts === this.deps.defaults.retry.attempts
            ? this.deps.defaults.retry
            : { ...this.deps.defaults.retry, attempts },
        deadline: call.deadline,
        shouldRetry: (e) => isSafeToRetry(e, call.target.service, call.idempotent),
        signal: call.options.signal,
        onRetry: (e, attempt, delayMs) =>
          this.deps.logger.debug(
            {
              target: `${call.target.service}.${call.target.method}`,
              attempt,
              delayMs,
              code: (e as { code?: string }).code,
            },
            'retrying call',
          ),
      },
      this.backoff,
    );
  }

  /** The headers of an outgoing call (or stream: stream-caller.ts sends the same). */
  headers(o: ServiceCallOptions, parent: ParentContext | undefined): Headers {
    const headers: Headers = o.headers === undefined ? {} : { ...o.headers };
    // A call outside any trace sends none: the receiving hop starts the trace, and nothing
    // on this side could have recorded a span of it. One header less on the wire.
    if (parent) headers[HEADER.traceparent] = formatTraceparent(parent.trace);
    else if (o.traceparent !== undefined) headers[HEADER.traceparent] = formatTraceparent(continueTrace(o.traceparent));
    headers[HEADER.source] = this.deps.service;
    // x-caller only when it names someone other than the sending service (the receiver
    // falls back to x-source): one header less on the wire for plain service-to-service calls.
    const caller = o.caller ?? parent?.caller;
    if (caller !== undefined && caller !== this.deps.service) headers[HEADER.caller] = caller;
    // The end user's token goes along, so every hop can check the rules for that user.
    const userToken = parent?.userToken;
    if (userToken !== undefined) headers[AUTH_HEADER.userToken] = userToken;
    return headers;
  }
}

/** One outgoing call across its attempts. */
class OutgoingCall {
  /** Known after the first attempt resolved the target. */
  idempotent = false;
  private validated = false;

  constructor(
    private readonly caller: Caller,
    readonly target: CallTarget,
    private readonly payload: unknown,
    readonly deadline: number,
    readonly headers: Headers,
    readonly options: ServiceCallOptions,
  ) {}

  /** One attempt. Throws before sending when the target is unknown, the payload invalid or the time up; with `calls.validateReplies`, rejects an invalid reply. */
  attempt(): Promise<unknown> {
    const { directory, schemas, breakers } = this.caller.deps;
    const { service, method } = this.target;
    const info = directory.method(service, method);
    if (info?.kind !== undefined) {
      throw new FailedPreconditionError(
        `${service}.${method} is a ${info.kind === 'bidi' ? 'bidi' : 'client-streaming'} method: call it with ${info.kind === 'bidi' ? 'bidi()' : 'clientStream()'}`,
        { details: { service, method, kind: info.kind } },
      );
    }
    this.idempotent = this.options.idempotent ?? info?.idempotent ?? false;
    if (!this.validated && info?.request !== undefined) {
      checkPayload(schemas, info.request, this.payload, 'request');
      this.validated = true;
    }
    // `calls.validateReplies`: the validator is looked up before sending, so a response
    // schema this side lacks fails the call (SCHEMA_NOT_FOUND) before the handler runs.
    const reply =
      this.caller.deps.defaults.validateReplies && info?.response !== undefined
        ? schemas.get(info.response)
        : undefined;
    // Checked here, not left to the transport, so an expired deadline is not counted against the target's breaker.
    if (this.deadline <= Date.now()) {
      throw new DeadlineExceededError(`the deadline passed before ${service}.${method} was called`, {
        details: { service, method },
      });
    }
    return breakers ? breakers.run(service, () => this.send(reply)) : this.send(reply);
  }

  // A method, not an arrow property: a function property made per call costs an allocation
  // (and, under tsx/esbuild keepNames, a defineProperty) on the hot path.
  // An invalid reply fails inside the breaker: it counts against the target, as the
  // server's own INTERNAL would.
  private send(reply: SchemaValidator | undefined): Promise<unknown> {
    const o = this.options;
    const sent = this.caller.deps.transport.call(this.target.service, this.target.method, this.payload, {
      deadline: this.deadline,
      timeoutMs: Math.max(1, this.deadline - Date.now()),
      headers: this.headers,
      signal: o.signal,
      contentType: o.contentType,
      // An idempotent call whose reply was lost with the broker connection is retried;
      // the retry waits for the connection to come back (within the deadline) instead of
      // burning its attempts while the broker restarts. Others fail fast.
      waitForReady: this.idempotent,
    });
    if (reply === undefined) return sent;
    const { service, method } = this.target;
    return sent.then((r) => checkReply(reply, service, method, r));
  }
}
