import type { Span } from '@opentelemetry/api';
import {
  type BidiCall,
  type BidiKind,
  CancelledError,
  ClosedError,
  type Headers,
  InternalError,
  isSwitchyardError,
  type SwitchyardError,
} from '@switchyard/broker';
import type { ParentContext, ServiceBidiCall, ServiceBidiOptions } from '../context/context-host.js';
import { HEADER } from '../context/headers.js';
import type { SchemaValidator } from '../schemas/validator.js';
import { ATTR, messagingSystemOf, RPC_SYSTEM } from '../telemetry/semconv.js';
import { failSpan, parentContextOf, SpanKind, startSpan, traceparentOf, tracingOn } from '../telemetry/spans.js';
import { bidiDeadline, itemError, kindMismatch } from './bidi-checks.js';
import type { CallTarget } from './call-target.js';
import type { Caller } from './caller.js';
import { FailedBidi } from './failed-bidi.js';
import { OK } from './service-metrics.js';

const NO_OPTIONS: ServiceBidiOptions = Object.freeze({});
const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

/**
 * The outgoing half of bidi and client-streaming calls, beside the unary `Caller` whose
 * parts it uses. Before anything is sent: the target is looked up (SERVICE_NOT_FOUND,
 * UNIMPLEMENTED, FAILED_PRECONDITION when it registered the method as another kind), the
 * validators of its `request` and `response` schemas fetched once, the deadline set (none
 * unless asked for or inherited). Streams are never retried.
 */
export class BidiStreamCaller {
  private closed = false;

  constructor(private readonly caller: Caller) {}

  close(): void {
    this.closed = true;
  }

  /** Never throws: every failure before the stream opens comes out of the first `send()`, `next()` or `end()`. */
  bidi(
    target: string,
    options: ServiceBidiOptions | undefined,
    parent: ParentContext | undefined,
    kind: BidiKind,
  ): OutgoingBidi | FailedBidi {
    const deps = this.caller.deps;
    const o = options ?? NO_OPTIONS;
    let t: CallTarget;
    let deadline: number | undefined;
    let headers: Headers;
    let request: SchemaValidator | undefined;
    let response: SchemaValidator | undefined;
    try {
      if (this.closed) throw new ClosedError(`service "${deps.service}" is closed`);
      t = this.caller.targets.parse(target);
      deadline = bidiDeadline(o, parent?.deadline);
      const info = deps.directory.method(t.service, t.method);
      if (info !== undefined && info.kind !== kind) throw kindMismatch(t, info, kind);
      if (info?.request !== undefined) request = deps.schemas.get(info.request);
      if (o.validateItems !== false && info?.response !== undefined && deps.schemas.has(info.response)) {
        response = deps.schemas.get(info.response);
      }
      if (o.signal?.aborted) throw new CancelledError(`stream ${t.service}.${t.method} was cancelled by the caller`);
      headers = this.caller.headers(o, parent);
    } catch (err) {
      return new FailedBidi(err as SwitchyardError);
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
    return new OutgoingBidi(this.caller, t, kind, deadline, headers, o, request, response, span);
  }
}

/**
 * One bidi (or client) stream as the application uses it: the transport's `BidiCall` with
 * each item checked on its way out and in. The call is opened through the target's circuit
 * breaker, which counts its first sign of life (an item sent or received, the end, or an
 * error); while a half-open trial holds the breaker, sends and reads wait for it.
 */
export class OutgoingBidi implements ServiceBidiCall {
  private inner: BidiCall | undefined;
  /** Only while the breaker has not let the stream through yet. */
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  /** A failure found on this side (a bad item, the breaker, a cancel before opening): it wins over the transport's CANCELLED. */
  private ownFailure: SwitchyardError | undefined;
  /** `ownFailure` not yet thrown by `next()`. */
  private unseen: SwitchyardError | undefined;
  private sendSeq = 0;
  private recvSeq = 0;
  private finished = false;
  private readonly started = performance.now();
  private signOk: (() => void) | undefined;
  private signErr: ((err: unknown) => void) | undefined;

  constructor(
    private readonly caller: Caller,
    private readonly target: CallTarget,
    private readonly kind: BidiKind,
    private readonly deadline: number | undefined,
    private readonly headers: Headers,
    private readonly options: ServiceBidiOptions,
    private readonly request: SchemaValidator | undefined,
    private readonly response: SchemaValidator | undefined,
    private readonly span: Span | undefined,
  ) {
    const breakers = caller.deps.breakers;
    if (!breakers) {
      this.openInner();
      return;
    }
    const counted = breakers.run(target.service, () => {
      if (this.ownFailure) return Promise.reject(this.ownFailure);
      this.openInner();
      return new Promise<void>((resolve, reject) => {
        this.signOk = resolve;
        this.signErr = reject;
      });
    });
    counted.catch((err: unknown) => {
      if (this.inner === undefined && !this.ownFailure) this.fail(err as SwitchyardError);
    });
    if (this.inner === undefined && !this.ownFailure) {
      this.gate = new Promise((resolve) => {
        this.openGate = resolve;
      });
    }
  }

  get id(): string {
    return this.inner?.id ?? '';
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  send(item: unknown): Promise<void> {
    if (this.ownFailure !== undefined) return Promise.reject(this.ownFailure);
    const inner = this.inner;
    if (inner === undefined) return this.gate!.then(() => this.send(item));
    const v = this.request;
    if (v !== undefined && !v.isValid(item)) {
      const e = itemError(this.target, 'request', this.sendSeq, v.validate(item));
      this.fail(e);
      return Promise.reject(e);
    }
    this.sendSeq++;
    const sent = inner.send(item);
    if (this.signOk !== undefined) sent.then(this.signedOk, this.signedErr);
    return sent;
  }

  end(): Promise<void> {
    if (this.ownFailure !== undefined) return Promise.resolve();
    const inner = this.inner;
    if (inner === undefined) return this.gate!.then(() => this.end());
    return inner.end();
  }

  cancel(reason?: string): void {
    if (this.finished) return;
    const inner = this.inner;
    if (inner === undefined) {
      this.fail(new CancelledError(reason ?? `the stream ${this.label} was cancelled by the caller`));
      return;
    }
    inner.cancel(reason);
    this.finish(new CancelledError(reason ?? `the stream ${this.label} was cancelled by the caller`));
  }

  // Not async: one `then` per item (the hot path).
  next(): Promise<IteratorResult<unknown>> {
    if (this.ownFailure !== undefined) {
      const e = this.unseen;
      this.unseen = undefined;
      return e ? Promise.reject(e) : Promise.resolve(DONE);
    }
    const inner = this.inner;
    if (inner === undefined) return this.gate!.then(() => this.next());
    return inner.next().then(this.onResult, this.onError);
  }

  /** Leaving a for-await early: cancel quietly. */
  return(): Promise<IteratorResult<unknown>> {
    if (!this.finished) {
      const e = new CancelledError(`the caller left the stream ${this.label} before its end`);
      if (this.inner) {
        void this.inner.return?.();
        this.finish(e);
      } else this.fail(e);
    }
    this.unseen = undefined;
    return Promise.resolve(DONE);
  }

  /** Client streams: half-close, then the one reply. */
  async reply(): Promise<unknown> {
    if (this.ownFailure !== undefined) throw this.ownFailure;
    await this.end();
    const r = await this.next();
    if (!r.done) return r.value;
    throw this.ownFailure ?? new InternalError(`${this.label}: the server ended the client stream without a reply`);
  }

  private get label(): string {
    return `${this.target.service}.${this.target.method}`;
  }

  private readonly onResult = (r: IteratorResult<unknown>): IteratorResult<unknown> => {
    if (r.done) {
      this.finish(undefined);
      return r;
    }
    const v = this.response;
    if (v !== undefined && !v.isValid(r.value)) {
      const e = itemError(this.target, 'response', this.recvSeq, v.validate(r.value));
      this.fail(e);
      this.unseen = undefined; // thrown right here
      throw e;
    }
    this.recvSeq++;
    if (this.signOk !== undefined) this.sign(undefined);
    return r;
  };

  private readonly onError = (err: unknown): never => {
    if (this.ownFailure !== undefined) {
      this.unseen = undefined;
      throw this.ownFailure;
    }
    this.finish(err);
    throw err;
  };

  private readonly signedOk = (): void => this.sign(undefined);
  private readonly signedErr = (err: unknown): void => this.sign(err);

  private sign(err: unknown): void {
    const ok = this.signOk;
    const ko = this.signErr;
    this.signOk = this.signErr = undefined;
    if (err === undefined) ok?.();
    else ko?.(err);
  }

  private openInner(): void {
    const o = this.options;
    this.inner = this.caller.deps.transport.bidi(this.target.service, this.target.method, {
      kind: this.kind,
      ...(this.deadline === undefined ? {} : { deadline: this.deadline }),
      headers: this.headers,
      signal: o.signal,
      contentType: o.contentType,
      window: o.window,
      heartbeatMs: o.heartbeatMs,
    });
    this.openGate?.();
    this.openGate = undefined;
  }

  /** End the stream with a failure found on this side. */
  private fail(e: SwitchyardError): void {
    if (this.ownFailure !== undefined) return;
    this.ownFailure = e;
    this.unseen = e;
    this.inner?.cancel(e.message);
    this.finish(e);
    this.openGate?.();
    this.openGate = undefined;
  }

  private finish(err: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.sign(err);
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
