import {
  type Attributes,
  type Context,
  context,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { isSwitchyardError } from '@switchyard/broker';
import { parseTraceparent, type TraceContext } from '../context/trace-context.js';
import { ATTR } from './semconv.js';

/**
 * Spans through the OpenTelemetry API only: a library never registers a provider (the
 * program does, with `startTracing()`), and without one nothing is recorded. Switchyard
 * passes the trace on in the W3C `traceparent` header it always sent; with tracing on, the
 * span ids in that header are the spans' own, so our hops and any OTel-instrumented
 * code around them form one trace.
 */

export const TRACER_NAME = '@switchyard/sdk';
export { SpanKind };

/** The API's no-op provider: what the global proxy delegates to until a program registers one. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a tracer provider is registered. Checked per operation (a global read), so a
 * provider registered after this module loaded is seen; while it is false the hot paths
 * make no span objects at all, which is what "no cost when off" means.
 */
export function tracingOn(): boolean {
  const p = trace.getTracerProvider() as Partial<ProxyTracerProvider>;
  // A provider registered by another copy of the API is not our proxy: assume it records.
  return typeof p.getDelegate !== 'function' || p.getDelegate() !== NOOP_PROVIDER;
}

/** The tracer a library part starts its spans with. */
export function tracer(name: string = TRACER_NAME): Tracer {
  return trace.getTracer(name);
}

/**
 * The context of a remote parent from a `traceparent` header, parsed by us so that no
 * global propagator needs to be registered; the root context when it is absent or malformed.
 */
export function remoteParent(traceparent: string | undefined): Context {
  const p = parseTraceparent(traceparent);
  if (p === undefined) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: p.traceId,
    spanId: p.parentSpanId,
    traceFlags: Number.parseInt(p.flags, 16),
    isRemote: true,
  });
}

/**
 * Where a span started by an SDK operation hangs: under the active span when it belongs to
 * the handler's trace (user spans opened inside a handler nest correctly), else under the
 * handler's own span; outside a handler, under an explicit `traceparent`, else whatever
 * span is active (an instrumented HTTP server, say), else a new trace.
 */
export function parentContextOf(parent: TraceContext | undefined, traceparent: string | undefined): Context {
  const active = context.active();
  if (parent !== undefined) {
    const sc = trace.getSpanContext(active);
    if (sc !== undefined && sc.traceId === parent.traceId) return active;
    return trace.setSpanContext(ROOT_CONTEXT, {
      traceId: parent.traceId,
      spanId: parent.spanId,
      traceFlags: Number.parseInt(parent.flags, 16),
    });
  }
  if (traceparent !== undefined) return remoteParent(traceparent);
  return active;
}

/** Start a span under `parent`. */
export function startSpan(name: string, kind: SpanKind, attributes: Attributes, parent: Context): Span {
  return tracer().startSpan(name, { kind, attributes }, parent);
}

/** A span as the SDK's TraceContext: what handlers see as `ctx.trace` and what goes on in `traceparent`. */
export function traceOfSpan(span: Span, parentSpanId: string | undefined): TraceContext {
  const sc = span.spanContext();
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    parentSpanId,
    flags: sc.traceFlags === 1 ? '01' : sc.traceFlags.toString(16).padStart(2, '0'),
  };
}

/** The `traceparent` header that makes `span` the parent of the next hop. */
export function traceparentOf(span: Span): string {
  const sc = span.spanContext();
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags === 1 ? '01' : sc.traceFlags.toString(16).padStart(2, '0')}`;
}

/** Mark a span failed with our stable code as `error.type` (INTERNAL for anything untyped). */
export function failSpan(span: Span, err: unknown): void {
  const code = isSwitchyardError(err) ? err.code : 'INTERNAL';
  span.setAttribute(ATTR.errorType, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** Run `fn` with `span` active, so spans opened inside it (ours or the user's) are its children. */
export function withSpan<T>(span: Span, parent: Context, fn: () => T): T {
  return context.with(trace.setSpan(parent, span), fn);
}

/** End `span` once `work` settles, failed when it rejects; resolves and rejects as `work` does. */
export async function endWith<T>(span: Span, work: Promise<T>): Promise<T> {
  try {
    const r = await work;
    span.end();
    return r;
  } catch (err) {
    failSpan(span, err);
    span.end();
    throw err;
  }
}
