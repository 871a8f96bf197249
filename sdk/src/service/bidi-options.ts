import { invalidOption, isPlainObject, knownKeys } from '../config/check.js';
import type { CallContext } from '../context/call-context.js';
import type { RateLimitOptions } from '../resilience/rate-limit.js';

// biome-ignore lint/suspicious/noExplicitAny: payload types are the author's to choose; schemas check them at run time
type Any = any;

/**
 * A bidi handler: reads the caller's items from `input` (each already checked against the
 * `request` schema) and returns — or, as an `async function*`, yields — its own items, each
 * checked against `response`. Its output is pulled only while the caller grants credit, and
 * `input` grants the caller credit only as the handler reads it: both sides stay bounded.
 */
export type ServiceBidiHandler<In = Any, Out = unknown> = (
  input: AsyncIterableIterator<In>,
  ctx: CallContext,
) => AsyncIterable<Out> | Iterable<Out> | Promise<AsyncIterable<Out> | Iterable<Out>>;

/** A client-streaming handler: reads every item of `input` it needs and resolves to the one reply. */
export type ServiceClientStreamHandler<In = Any, Res = unknown> = (
  input: AsyncIterableIterator<In>,
  ctx: CallContext,
) => Res | Promise<Res>;

interface StreamingMethodCommon {
  /** Schema `$id` of each caller item: the first that fails it ends the stream with INVALID_ARGUMENT (`details.seq`, `direction: 'request'`). */
  request?: string;
  /** Schema `$id` of each server item (bidi) or of the one reply (client): a failure ends the stream with INVALID_ARGUMENT (`direction: 'response'`). */
  response?: string;
  /** Running the handler twice for one stream is harmless. Default false: a stream handed over from an instance that died is refused, not run again. */
  idempotent?: boolean;
  /** Streams of this method open at once in this instance (each holds its slot until it ends); more are refused with BULKHEAD_FULL. Default 100. */
  maxConcurrent?: number;
  /** Streams waiting for a slot before BULKHEAD_FULL. Default 0. */
  maxQueued?: number;
  /** Server-side rate limit of stream openings in this instance (RATE_LIMITED when hit). Default none. */
  rateLimit?: { points: number; durationSeconds?: number; perCaller?: boolean };
  /** Caller items buffered here before the caller must wait for credit (1-10000). Default 16. */
  inputWindow?: number;
}

/** `methods: { chat: { kind: 'bidi', handler } }`: items both ways (docs/sdk.md, "Bidirectional and client streaming"). */
export interface BidiMethodOptions<In = Any, Out = unknown> extends StreamingMethodCommon {
  kind: 'bidi';
  handler: ServiceBidiHandler<In, Out>;
}

/** `methods: { upload: { kind: 'client', handler } }`: many items in, one reply out. */
export interface ClientStreamMethodOptions<In = Any, Res = unknown> extends StreamingMethodCommon {
  kind: 'client';
  handler: ServiceClientStreamHandler<In, Res>;
}

/**
 * What `methods` accepts for these kinds: the handler's first parameter is untyped there, so
 * that an entry without `kind` (a unary method) still gets its parameters typed from the
 * context — TypeScript types a handler in a union only when every member's parameters are
 * the same. Annotate `input` (`AsyncIterable<Msg>`), or write `satisfies BidiMethodOptions<Msg, Reply>`.
 */
export type LooseBidiMethodOptions = Omit<BidiMethodOptions, 'handler'> & {
  handler: (input: Any, ctx: CallContext) => ReturnType<ServiceBidiHandler>;
};
export type LooseClientStreamMethodOptions = Omit<ClientStreamMethodOptions, 'handler'> & {
  handler: (input: Any, ctx: CallContext) => unknown;
};

export interface ResolvedBidi {
  readonly name: string;
  readonly kind: 'bidi' | 'client';
  readonly handler: ServiceBidiHandler | ServiceClientStreamHandler;
  readonly request: string | undefined;
  readonly response: string | undefined;
  readonly idempotent: boolean;
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly rateLimit: Readonly<RateLimitOptions> | undefined;
  readonly inputWindow: number;
}

export const DEFAULT_INPUT_WINDOW = 16;
/** The broker's bound on a window (broker/src/bidi/frames.ts MAX_BIDI_WINDOW). */
const MAX_INPUT_WINDOW = 10_000;

const BIDI_KEYS = [
  'kind',
  'handler',
  'request',
  'response',
  'idempotent',
  'maxConcurrent',
  'maxQueued',
  'rateLimit',
  'inputWindow',
] as const;

/** What a bidi method shares with a unary one, resolved by service-options' `resolveMethod`. */
interface SharedFields {
  readonly name: string;
  readonly handler: unknown;
  readonly request: string | undefined;
  readonly response: string | undefined;
  readonly idempotent: boolean;
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly rateLimit: Readonly<RateLimitOptions> | undefined;
}

/** Validate and default one `methods.<name>` of kind `bidi` or `client`. */
export function resolveBidiMethod(
  name: string,
  spec: Record<string, unknown>,
  resolveMethod: (name: string, spec: unknown, section: string) => SharedFields,
): ResolvedBidi {
  const at = `methods.${name}`;
  knownKeys(at, spec, BIDI_KEYS);
  const kind = spec.kind as 'bidi' | 'client';
  const { kind: _kind, inputWindow: rawWindow, ...shared } = spec;
  const m = resolveMethod(name, shared, 'methods');
  let inputWindow = DEFAULT_INPUT_WINDOW;
  if (rawWindow !== undefined) {
    if (typeof rawWindow !== 'number' || !Number.isInteger(rawWindow) || rawWindow < 1 || rawWindow > MAX_INPUT_WINDOW)
      throw invalidOption(
        `${at}.inputWindow`,
        `must be an integer 1-${MAX_INPUT_WINDOW}, got ${JSON.stringify(rawWindow)}`,
      );
    inputWindow = rawWindow;
  }
  return Object.freeze({
    name: m.name,
    kind,
    handler: m.handler as ServiceBidiHandler | ServiceClientStreamHandler,
    request: m.request,
    response: m.response,
    idempotent: m.idempotent,
    maxConcurrent: m.maxConcurrent,
    maxQueued: m.maxQueued,
    rateLimit: m.rateLimit,
    inputWindow,
  });
}

export type MethodKind = 'unary' | 'server' | 'client' | 'bidi';

/** The kind a `methods.<name>` entry declares (a bare function is unary); throws naming `kind` when it is none of them. */
export function methodKind(name: string, spec: unknown): MethodKind {
  if (!isPlainObject(spec) || spec.kind === undefined) return 'unary';
  const k = spec.kind;
  if (k === 'unary' || k === 'server' || k === 'client' || k === 'bidi') return k;
  throw invalidOption(
    `methods.${name}.kind`,
    `must be "unary", "server", "client" or "bidi", got ${JSON.stringify(k)}`,
  );
}
