import type { Context, Span } from '@opentelemetry/api';
import {
  CancelledError,
  type IncomingRequest,
  InvalidArgumentError,
  type MethodDefinition,
  type SwitchyardError,
  validationError,
} from '@switchyard/broker';
import { RequestContext } from '../context/call-context.js';
import type { ContextHost } from '../context/context-host.js';
import { HEADER } from '../context/headers.js';
import { parseTraceparent, type TraceContext } from '../context/trace-context.js';
import type { MethodBulkhead } from '../resilience/bulkhead.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { remoteParent, SpanKind, startSpan, traceOfSpan, tracingOn, withSpan } from '../telemetry/spans.js';
import type { ResolvedBidi, ServiceBidiHandler, ServiceClientStreamHandler } from './bidi-options.js';
import { MethodAdmission } from './method-admission.js';
import type { ServiceMetrics } from './service-metrics.js';
import { publicStreamError, streamEnded } from './stream-outcome.js';

/**
 * The incoming half of one bidi or client-streaming method. The transport's session
 * (docs/protocol.md §9) checks every caller item against `request` and every bidi output
 * item against `response` through the definition's validators, and paces both directions
 * by credit; this runner adds what a stream method has in the SDK: admission (at-most-once,
 * rate limit, a bulkhead slot held for the whole stream), the handler's ctx, one SERVER
 * span and one metric sample from the opening to the end, however it ends.
 */
export class BidiRunner {
  private readonly admission: MethodAdmission;

  constructor(
    readonly host: ContextHost,
    readonly spec: ResolvedBidi,
    readonly schemas: SchemaRegistry,
    readonly metrics: ServiceMetrics | undefined,
  ) {
    // The opening request carries no payload: `request` is each item's schema, checked by the session.
    this.admission = new MethodAdmission(host, { ...spec, request: undefined }, schemas, 'streaming');
  }

  get bulkhead(): MethodBulkhead {
    return this.admission.bulkhead;
  }

  get label(): string {
    return this.admission.label;
  }

  /** The transport's view of this method (made once). */
  definition(): MethodDefinition {
    const { kind, request, response, inputWindow } = this.spec;
    const def: MethodDefinition = { bidi: kind, inputWindow, handler: (req) => this.open(req) };
    // Throwing validationError's InvalidArgumentError lets the session copy its violations into details.
    if (request !== undefined) def.validateRequest = (item) => this.check(request, item);
    // A client stream's one reply is checked here in open() instead, so its metric and span see the failure.
    if (response !== undefined && kind === 'bidi')
      def.validateResponse = (item) => {
        try {
          this.check(response, item);
        } catch (err) {
          this.host.logger.error(
            { method: this.spec.name, schema: response, violations: (err as SwitchyardError).details?.violations },
            'bidi output item failed its schema; the stream ends',
          );
          throw err;
        }
      };
    return def;
  }

  private check(schema: string, item: unknown): void {
    const v = this.schemas.get(schema);
    if (!v.isValid(item)) throw validationError('item', v.validate(item));
  }

  private async open(req: IncomingRequest): Promise<unknown> {
    const started = performance.now();
    let span: Span | undefined;
    let parent: Context | undefined;
    let trace: TraceContext | undefined;
    if (tracingOn()) {
      const header = req.headers[HEADER.traceparent];
      parent = remoteParent(header);
      span = startSpan(this.admission.spanName, SpanKind.SERVER, this.admission.spanAttributes, parent);
      trace = traceOfSpan(span, parseTraceparent(header)?.parentSpanId);
    }
    let release: () => void;
    try {
      release = await this.admission.holdSlot(req);
    } catch (err) {
      this.ended(span, started, err);
      throw err;
    }
    if (req.signal.aborted) {
      // The stream ended while it waited for admission (a bad first item, a cancel): the handler never runs.
      release();
      this.ended(span, started, req.signal.reason);
      throw req.signal.reason;
    }
    const ctx = new RequestContext(this.host, this.spec.name, req, trace);
    const end = new StreamEnd(this, req, release, started, span);
    const input = req.input as AsyncIterableIterator<unknown>;
    try {
      if (this.spec.kind === 'client') {
        const handler = this.spec.handler as ServiceClientStreamHandler;
        const call = () => handler(input, ctx);
        const reply = await (span && parent ? withSpan(span, parent, call) : call());
        this.checkReply(reply, ctx);
        end.finish(undefined);
        return reply;
      }
      const handler = this.spec.handler as ServiceBidiHandler;
      const call = () => handler(input, ctx);
      const source = await (span && parent ? withSpan(span, parent, call) : call());
      return new BidiOutput(this, source, ctx, end, span, parent);
    } catch (err) {
      const e = this.publicError(err, ctx);
      end.finish(e);
      throw e;
    }
  }

  /** The same error the session gives a bad bidi output item, for the one reply of a client stream. */
  private checkReply(reply: unknown, ctx: RequestContext): void {
    const schema = this.spec.response;
    if (schema === undefined) return;
    const v = this.schemas.get(schema);
    if (v.isValid(reply)) return;
    const violations = v.validate(reply);
    ctx.logger.error({ violations, schema }, 'client-stream reply failed its schema; the stream ends');
    throw new InvalidArgumentError(`${this.label}: response item #0 is invalid`, {
      details: { seq: 0, direction: 'response', violations },
    });
  }

  /** What the caller may see; anything that is not a SwitchyardError is logged here and becomes INTERNAL. */
  publicError(err: unknown, ctx: RequestContext): SwitchyardError {
    return publicStreamError(err, ctx, 'bidi handler failed');
  }

  /** Metrics and span of one stream, once, however it ended (`err` undefined: it completed). */
  ended(span: Span | undefined, started: number, err: unknown): void {
    streamEnded(this.metrics, this.spec.name, span, started, err);
  }
}

/**
 * The end of one stream, once: the bulkhead slot back, the metric and the span. Also when
 * the session stops (cancel, deadline, a bad item, a lost caller) while the handler is
 * still busy — the signal aborts then, and a handler that ignores it must not keep the slot.
 */
class StreamEnd {
  finished = false;
  private readonly onAbort: () => void;

  constructor(
    private readonly runner: BidiRunner,
    private readonly req: IncomingRequest,
    private readonly release: () => void,
    private readonly started: number,
    private readonly span: Span | undefined,
  ) {
    this.onAbort = () => this.finish(this.stopReason());
    req.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  stopReason(): unknown {
    return this.req.signal.aborted
      ? this.req.signal.reason
      : new CancelledError(`${this.runner.label}: the stream was closed before its end`);
  }

  finish(err: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.req.signal.removeEventListener('abort', this.onAbort);
    this.release();
    this.runner.ended(this.span, this.started, err);
  }
}

const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

/**
 * The handler's output as the session pulls it. Hand-written rather than an async
 * generator for the reason stream-runner.ts gives (`return()` before the first pull must
 * still end the stream), and so a pull costs one `then`.
 */
class BidiOutput implements AsyncIterableIterator<unknown> {
  private iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;

  constructor(
    private readonly runner: BidiRunner,
    private readonly source: unknown,
    private readonly ctx: RequestContext,
    private readonly end: StreamEnd,
    private readonly span: Span | undefined,
    private readonly parent: Context | undefined,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.end.finished) return Promise.resolve(DONE);
    let pulled: Promise<IteratorResult<unknown>> | IteratorResult<unknown>;
    try {
      pulled = this.span && this.parent ? withSpan(this.span, this.parent, () => this.pull()) : this.pull();
    } catch (err) {
      return Promise.reject(this.failed(err));
    }
    return Promise.resolve(pulled).then(this.onItem, this.onError);
  }

  private readonly onItem = (r: IteratorResult<unknown>): IteratorResult<unknown> => {
    if (r.done) this.end.finish(undefined);
    return r;
  };

  private readonly onError = (err: unknown): never => {
    throw this.failed(err);
  };

  private failed(err: unknown): SwitchyardError {
    const e = this.runner.publicError(err, this.ctx);
    this.end.finish(e);
    return e;
  }

  /** The session stopped pulling: cancel, deadline, a bad item, or the caller went away. */
  async return(): Promise<IteratorResult<unknown>> {
    this.end.finish(this.end.stopReason());
    try {
      await this.iterator?.return?.();
    } catch (err) {
      this.ctx.logger.warn({ err }, 'closing the bidi handler failed');
    }
    return DONE;
  }

  private pull(): Promise<IteratorResult<unknown>> | IteratorResult<unknown> {
    if (this.iterator === undefined) {
      const s = Object(this.source) as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
      const asyncIt = s[Symbol.asyncIterator];
      const syncIt = s[Symbol.iterator];
      if (typeof asyncIt === 'function') this.iterator = asyncIt.call(s);
      else if (typeof syncIt === 'function' && typeof this.source !== 'string') this.iterator = syncIt.call(s);
      else throw new TypeError(`${this.runner.label} is a bidi method but its handler returned no iterable`);
    }
    return this.iterator.next();
  }
}
