import type { Span } from '@opentelemetry/api';
import {
  CancelledError,
  ClosedError,
  DeadlineExceededError,
  FailedPreconditionError,
  type Headers,
  InvalidArgumentError,
  isSwitchyardError,
  StreamItemInvalidError,
  type SwitchyardError,
} from '@switchyard/broker';
import type { ParentContext, ServiceStreamOptions } from '../context/context-host.js';
import { HEADER } from '../context/headers.js';
import { callDeadline } from '../resilience/deadline.js';
import type { SchemaValidator } from '../schemas/validator.js';
import { ATTR, messagingSystemOf, RPC_SYSTEM } from '../telemetry/semconv.js';
import { failSpan, parentContextOf, SpanKind, startSpan, traceparentOf, tracingOn } from '../telemetry/spans.js';
import type { CallTarget } from './call-target.js';
import type { Caller } from './caller.js';
import { checkPayload } from './payload-check.js';
import { OK } from './service-metrics.js';

const NO_OPTIONS: ServiceStreamOptions = Object.freeze({});
const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

/**
 * The outgoing half of server-streaming calls, beside the unary `Caller` whose parts it
 * uses (targets, registry directory, headers, breakers, metrics). Before anything is sent:
 * the target is looked up (SERVICE_NOT_FOUND, UNIMPLEMENTED, FAILED_PRECONDITION when it
 * registered the method as unary), the request checked against its schema, the deadline
 * set for the whole stream. Items come through the transport's credit window, so a slow
 * consumer holds the server back; they are checked against the registered item schema.
 * Streams are never retried: items already seen cannot be taken back.
 */
export class StreamCaller {
  private closed = false;

  constructor(private readonly caller: Caller) {}

  close(): void {
    this.closed = true;
  }

  /** Never throws: every failure, validation included, comes out of the iterator's first `next()`. */
  stream(
    target: string,
    payload: unknown,
    options: ServiceStreamOptions | undefined,
    parent: ParentContext | undefined,
  ): AsyncIterableIterator<unknown> {
    const deps = this.caller.deps;
    const o = options ?? NO_OPTIONS;
    let t: CallTarget;
    let deadline: number;
    let headers: Headers;
    let validator: SchemaValidator | undefined;
    try {
      if (this.closed) throw new ClosedError(`service "${deps.service}" is closed`);
      t = this.caller.targets.parse(target);
      const timeoutMs = o.timeoutMs ?? deps.defaults.timeoutMs;
      if (!(timeoutMs > 0))
        throw new InvalidArgumentError(`timeoutMs must be a positive number, got ${String(timeoutMs)}`);
      deadline = callDeadline(Date.now(), timeoutMs, o.deadline, parent?.deadline);
      const info = deps.directory.method(t.service, t.method);
      if (info !== undefined && info.streaming !== true) {
        const how = info.kind === 'bidi' ? 'bidi()' : info.kind === 'client' ? 'clientStream()' : 'call()';
        throw new FailedPreconditionError(
          `${t.service}.${t.method} is not a server-streaming method: call it with ${how}`,
          {
            details: { service: t.service, method: t.method, ...(info.kind ? { kind: info.kind } : {}) },
          },
        );
      }
      if (info?.request !== undefined) checkPayload(deps.schemas, info.request, payload, 'request');
      if (o.validateItems !== false && info?.response !== undefined && deps.schemas.has(info.response)) {
        validator = deps.schemas.get(info.response);
      }
      if (o.signal?.aborted) throw new CancelledError(`stream ${t.service}.${t.method} was cancelled by the caller`);
      if (deadline <= Date.now()) {
        throw new DeadlineExceededError(`the deadline passed before ${t.service}.${t.method} was called`, {
          details: { service: t.service, method: t.method },
        });
      }
      headers = this.caller.headers(o, parent);
    } catch (err) {
      return failedStream(err);
    }
    let span: Span | undefined;
    if (tracingOn()) {
      span = startSpan(
        `${t.service}/${t.method}`,
        SpanKind.CLIENT,
        {
          [ATTR.rpcSystem]: RPC_SYSTEM,
          [ATTR.rpcService]: t.service,
          [ATTR.rpcMethod]: t.method,
          [ATTR.messagingSystem]: messagingSystemOf(deps.transport.kind),
        },
        parentContextOf(parent?.trace, o.traceparent),
      );
      headers[HEADER.traceparent] = traceparentOf(span);
    }
    return new IncomingItems(this.caller, t, payload, deadline, headers, o, validator, span);
  }
}

/**
 * One stream as the application iterates it. The transport's stream is opened at once,
 * through the target's circuit breaker (its first answer — an item, the end or an error —
 * is what the breaker counts); `break` or `return()` cancels it on the server.
 */
class IncomingItems implements AsyncIterableIterator<unknown> {
  private inner: AsyncIterableIterator<unknown> | undefined;
  /** The first answer, fetched through the breaker; undefined once handed out. */
  private first: Promise<IteratorResult<unknown>> | undefined;
  private finished = false;
  private seq = 0;
  private readonly started = performance.now();

  constructor(
    private readonly caller: Caller,
    private readonly target: CallTarget,
    private readonly payload: unknown,
    private readonly deadline: number,
    private readonly headers: Headers,
    private readonly options: ServiceStreamOptions,
    private readonly validator: SchemaValidator | undefined,
    private readonly span: Span | undefined,
  ) {
    const breakers = caller.deps.breakers;
    this.first = breakers ? breakers.run(target.service, () => this.open()) : this.open();
    // A stream nobody iterates must not raise an unhandled rejection; next() still sees the error.
    this.first.catch(() => {});
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  // Not async: one `then` per item instead of an async frame and its awaits (the hot path).
  next(): Promise<IteratorResult<unknown>> {
    if (this.finished) return Promise.resolve(DONE);
    const first = this.first;
    if (first) {
      this.first = undefined;
      return first.then(this.onResult, this.onError);
    }
    return this.inner!.next().then(this.onResult, this.onError);
  }

  private readonly onResult = (r: IteratorResult<unknown>): IteratorResult<unknown> => {
    if (this.finished) return DONE;
    if (r.done) {
      this.finish(undefined);
      return DONE;
    }
    const v = this.validator;
    if (v !== undefined && !v.isValid(r.value)) {
      const { service, method } = this.target;
      const e = new StreamItemInvalidError(`${service}.${method} sent an item that fails its schema (#${this.seq})`, {
        details: { seq: this.seq, schema: v.id, violations: v.validate(r.value) },
      });
      void this.inner?.return?.();
      this.finish(e);
      throw e;
    }
    this.seq++;
    return r;
  };

  private readonly onError = (err: unknown): never => {
    this.finish(err);
    throw err;
  };

  /** Leaving the loop early: cancel the stream on the server. */
  async return(): Promise<IteratorResult<unknown>> {
    if (!this.finished) {
      this.finish(
        new CancelledError(`the caller left the stream ${this.target.service}.${this.target.method} before its end`),
      );
      await this.inner?.return?.();
    }
    return DONE;
  }

  private open(): Promise<IteratorResult<unknown>> {
    if (this.finished) return Promise.resolve(DONE); // returned before the breaker let it through
    const o = this.options;
    this.inner = this.caller.deps.transport.stream(this.target.service, this.target.method, this.payload, {
      deadline: this.deadline,
      timeoutMs: Math.max(1, this.deadline - Date.now()),
      headers: this.headers,
      signal: o.signal,
      contentType: o.contentType,
      window: o.window,
    });
    return this.inner.next();
  }

  private finish(err: unknown): void {
    if (this.finished) return;
    this.finished = true;
    const metrics = this.caller.deps.metrics;
    if (metrics) {
      const code = err === undefined ? OK : isSwitchyardError(err) ? err.code : 'INTERNAL';
      metrics.called(this.target.service, this.target.method, code, (performance.now() - this.started) / 1000);
    }
    if (this.span) {
      if (err !== undefined) failSpan(this.span, err);
      this.span.end();
    }
  }
}

/** An iterator whose first `next()` rejects with `err`. */
export function failedStream(err: unknown): AsyncIterableIterator<unknown> {
  let thrown = false;
  const it: AsyncIterableIterator<unknown> = {
    next: () => {
      if (thrown) return Promise.resolve(DONE);
      thrown = true;
      return Promise.reject(err as SwitchyardError);
    },
    return: () => {
      thrown = true;
      return Promise.resolve(DONE);
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}
