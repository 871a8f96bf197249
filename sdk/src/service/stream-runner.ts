import type { Context, Span } from '@opentelemetry/api';
import {
  CancelledError,
  type IncomingRequest,
  type MethodDefinition,
  StreamItemInvalidError,
  type SwitchyardError,
} from '@switchyard/broker';
import { RequestContext } from '../context/call-context.js';
import type { ContextHost } from '../context/context-host.js';
import { HEADER } from '../context/headers.js';
import { parseTraceparent, type TraceContext } from '../context/trace-context.js';
import type { MethodBulkhead } from '../resilience/bulkhead.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { remoteParent, SpanKind, startSpan, traceOfSpan, tracingOn, withSpan } from '../telemetry/spans.js';
import { MethodAdmission } from './method-admission.js';
import type { ServiceMetrics } from './service-metrics.js';
import type { ResolvedStream } from './stream-options.js';
import { publicStreamError, streamEnded } from './stream-outcome.js';

/**
 * The incoming half of one server-streaming method: the same admission as a unary method
 * (request schema, at-most-once, rate limit, bulkhead — each refusal before the handler
 * runs), then the handler's items, each checked against the item schema on its way out.
 * The first bad item ends the stream with STREAM_ITEM_INVALID (the violations are logged
 * here). A stream holds its bulkhead slot, its SERVER span and its metric timer from the
 * request until its last item, error, cancel or deadline.
 */
export class StreamRunner {
  private readonly admission: MethodAdmission;

  constructor(
    readonly host: ContextHost,
    readonly spec: ResolvedStream,
    readonly schemas: SchemaRegistry,
    readonly metrics: ServiceMetrics | undefined,
  ) {
    this.admission = new MethodAdmission(host, spec, schemas, 'streaming');
  }

  get bulkhead(): MethodBulkhead {
    return this.admission.bulkhead;
  }

  get label(): string {
    return this.admission.label;
  }

  /** The transport's view of this method (made once). */
  definition(): MethodDefinition {
    return { streaming: true, handler: (req) => this.open(req) };
  }

  private async open(req: IncomingRequest): Promise<AsyncIterableIterator<unknown>> {
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
    let source: AsyncIterable<unknown> | Iterable<unknown>;
    let ctx: RequestContext;
    try {
      release = await this.admission.holdSlot(req);
      ctx = new RequestContext(this.host, this.spec.name, req, trace);
      try {
        const call = () => this.spec.handler(req.payload, ctx);
        source = await (span && parent ? withSpan(span, parent, call) : call());
      } catch (err) {
        release();
        throw this.publicError(err, ctx);
      }
    } catch (err) {
      this.ended(span, started, err);
      throw err;
    }
    return new OutgoingItems(this, source, ctx, req, release, started, span, parent);
  }

  /** What the caller may see; anything that is not a SwitchyardError is logged here and becomes INTERNAL. */
  publicError(err: unknown, ctx: RequestContext): SwitchyardError {
    return publicStreamError(err, ctx, 'stream handler failed');
  }

  /** Metrics and span of one stream, once, however it ended (`err` undefined: it completed). */
  ended(span: Span | undefined, started: number, err: unknown): void {
    streamEnded(this.metrics, this.spec.name, span, started, err);
  }
}

const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

/**
 * The handler's items as the transport pulls them. A hand-written iterator, not an async
 * generator: a generator that was never started skips its `finally` on `return()`, and
 * the bulkhead slot must come back however the stream ends — also when the transport
 * gives up before pulling once (its signal aborts then).
 */
class OutgoingItems implements AsyncIterableIterator<unknown> {
  private iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  private finished = false;
  private seq = 0;
  private readonly onAbort: () => void;

  constructor(
    private readonly runner: StreamRunner,
    private readonly source: AsyncIterable<unknown> | Iterable<unknown>,
    private readonly ctx: RequestContext,
    private readonly req: IncomingRequest,
    private readonly release: () => void,
    private readonly started: number,
    private readonly span: Span | undefined,
    private readonly parent: Context | undefined,
  ) {
    this.onAbort = () => void this.return();
    if (req.signal.aborted) this.onAbort();
    else req.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  // Not async: one `then` per item instead of an async frame and its awaits (the hot path).
  next(): Promise<IteratorResult<unknown>> {
    if (this.finished) return Promise.resolve(DONE);
    let pulled: Promise<IteratorResult<unknown>> | IteratorResult<unknown>;
    try {
      pulled = this.span && this.parent ? withSpan(this.span, this.parent, () => this.pull()) : this.pull();
    } catch (err) {
      return Promise.reject(this.failed(err));
    }
    return Promise.resolve(pulled).then(this.onItem, this.onError);
  }

  private readonly onItem = (r: IteratorResult<unknown>): IteratorResult<unknown> | Promise<never> => {
    if (this.finished) return DONE; // cancelled while the handler was producing this item
    if (r.done) {
      this.finish(undefined);
      return DONE;
    }
    const schema = this.runner.spec.item;
    if (schema !== undefined) {
      const validator = this.runner.schemas.get(schema);
      if (!validator.isValid(r.value)) {
        const violations = validator.validate(r.value);
        this.ctx.logger.error({ violations, schema, seq: this.seq }, 'stream item failed its schema; the stream ends');
        const e = new StreamItemInvalidError(`${this.runner.label} produced an invalid item (#${this.seq})`, {
          details: { seq: this.seq, schema },
        });
        this.finish(e);
        return this.close().then(() => {
          throw e;
        });
      }
    }
    this.seq++;
    return r;
  };

  private readonly onError = (err: unknown): never => {
    throw this.failed(err);
  };

  private failed(err: unknown): SwitchyardError {
    const e = this.runner.publicError(err, this.ctx);
    this.finish(e);
    return e;
  }

  /** The transport stopped pulling: cancel, deadline, or the caller went away. */
  async return(): Promise<IteratorResult<unknown>> {
    if (this.finished) return DONE;
    const reason: unknown = this.req.signal.aborted ? this.req.signal.reason : undefined;
    this.finish(reason ?? new CancelledError(`${this.runner.label}: the stream was closed before its end`));
    await this.close();
    return DONE;
  }

  private pull(): Promise<IteratorResult<unknown>> | IteratorResult<unknown> {
    this.iterator ??=
      Symbol.asyncIterator in this.source ? this.source[Symbol.asyncIterator]() : this.source[Symbol.iterator]();
    return this.iterator.next();
  }

  private async close(): Promise<void> {
    try {
      await this.iterator?.return?.();
    } catch (err) {
      this.ctx.logger.warn({ err }, 'closing the stream handler failed');
    }
  }

  private finish(err: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.req.signal.removeEventListener('abort', this.onAbort);
    this.release();
    this.runner.ended(this.span, this.started, err);
  }
}
