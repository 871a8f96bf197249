import { randomHex } from './random-id.js';

/**
 * W3C trace context (https://www.w3.org/TR/trace-context/) as carried in the
 * `traceparent` header. Every hop keeps the trace id and gets a span id of its own; the
 * span id it received becomes its parent.
 */
export interface TraceContext {
  /** 32 lowercase hex digits, the same on every hop of one trace. */
  readonly traceId: string;
  /** 16 lowercase hex digits: this hop's span. */
  readonly spanId: string;
  /** The span id this hop received (undefined where the trace started). */
  readonly parentSpanId: string | undefined;
  /** Two hex digits; bit 0 = sampled. Passed on unchanged. */
  readonly flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** New traces are not marked sampled: the SDK records nothing itself. */
const DEFAULT_FLAGS = '00';

/** The parts of a `traceparent` header, or undefined when it is missing or malformed. */
export function parseTraceparent(
  header: string | undefined,
): { traceId: string; parentSpanId: string; flags: string } | undefined {
  if (header === undefined || header.length < 55) return undefined;
  const m = TRACEPARENT.exec(header);
  if (!m) return undefined;
  const version = m[1]!;
  // Version ff is invalid; version 00 has exactly 55 characters; later versions may append fields.
  if (version === 'ff' || (version === '00' && m[5] !== undefined)) return undefined;
  if (m[2] === ZERO_TRACE || m[3] === ZERO_SPAN) return undefined;
  return { traceId: m[2]!, parentSpanId: m[3]!, flags: m[4]! };
}

/** The header value that makes `trace.spanId` the parent of the next hop. */
export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-${trace.flags}`;
}

/** A new trace with a new root span. */
export function startTrace(): TraceContext {
  // One draw for both ids: 24 random bytes, the first 16 the trace id, the last 8 the span id.
  const ids = randomHex(24);
  return { traceId: ids.slice(0, 32), spanId: ids.slice(32), parentSpanId: undefined, flags: DEFAULT_FLAGS };
}

/** Continue the trace of an incoming `traceparent` with a new span, or start one when it is absent or invalid. */
export function continueTrace(header: string | undefined): TraceContext {
  const parent = parseTraceparent(header);
  if (!parent) return startTrace();
  return { traceId: parent.traceId, spanId: randomHex(8), parentSpanId: parent.parentSpanId, flags: parent.flags };
}
