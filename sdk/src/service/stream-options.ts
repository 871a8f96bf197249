import { invalidOption, isPlainObject, knownKeys, objectOption, optionalString } from '../config/check.js';
import type { CallContext } from '../context/call-context.js';
import type { RateLimitOptions } from '../resilience/rate-limit.js';

// biome-ignore lint/suspicious/noExplicitAny: payload types are the author's to choose; schemas check them at run time
type Any = any;

/**
 * A server-streaming handler: usually an `async function*`. What it yields goes to the
 * caller item by item, each checked against the stream's `item` schema; it is pulled only
 * as fast as the caller consumes (the transport's credit window).
 */
export type ServiceStreamHandler<Req = Any, Item = unknown> = (
  payload: Req,
  ctx: CallContext,
) => AsyncIterable<Item> | Iterable<Item> | Promise<AsyncIterable<Item> | Iterable<Item>>;

/** A server-streaming method, declared under `streams` next to `methods`. */
export interface StreamMethodOptions<Req = Any, Item = unknown> {
  handler: ServiceStreamHandler<Req, Item>;
  /** Schema `$id` of the request: requests that fail it are refused with INVALID_ARGUMENT before the handler runs. */
  request?: string;
  /** Schema `$id` every item must satisfy: the first item that fails it ends the stream with STREAM_ITEM_INVALID. */
  item?: string;
  /** Running the handler twice for one request is harmless: a stream handed over from an instance that died is run again. Default false. */
  idempotent?: boolean;
  /** Streams of this method open at once in this instance (each holds its slot until it ends); more are refused with BULKHEAD_FULL. Default 100. */
  maxConcurrent?: number;
  /** Requests waiting for a slot before BULKHEAD_FULL. Default 0. */
  maxQueued?: number;
  /** Server-side rate limit of stream openings in this instance (RATE_LIMITED when hit). Default none. */
  rateLimit?: { points: number; durationSeconds?: number; perCaller?: boolean };
}

/**
 * `methods: { ticks: { kind: 'server', handler } }`: the same as `streams: { ticks: ... }`,
 * with the item schema under `response` as the registry record names it.
 */
export interface ServerStreamMethodOptions<Req = Any, Item = unknown>
  extends Omit<StreamMethodOptions<Req, Item>, 'item'> {
  kind: 'server';
  /** Schema `$id` every item must satisfy (what `item` is under `streams`). */
  response?: string;
}

export interface ResolvedStream {
  readonly name: string;
  /** Where the options declared it: its item schema is `streams.<name>.item` or `methods.<name>.response`. */
  readonly declaredIn: 'streams' | 'methods';
  readonly handler: ServiceStreamHandler;
  readonly request: string | undefined;
  readonly item: string | undefined;
  readonly idempotent: boolean;
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly rateLimit: Readonly<RateLimitOptions> | undefined;
}

/** What a stream shares with a unary method, resolved by service-options' `resolveMethod`. */
type SharedFields = Omit<ResolvedStream, 'handler' | 'item' | 'declaredIn'> & { readonly handler: unknown };

const STREAM_KEYS = ['handler', 'request', 'item', 'idempotent', 'maxConcurrent', 'maxQueued', 'rateLimit'] as const;

/**
 * Validate and default `options.streams`. A stream shares its service's request queue with
 * the unary methods, so a name may not be both. `resolveMethod` checks what the two share
 * (name, handler, bulkhead, rate limit), reporting it under `streams.<name>`.
 */
export function resolveStreams(
  value: unknown,
  methodNames: readonly string[],
  resolveMethod: (name: string, spec: unknown, section: string) => SharedFields,
): ResolvedStream[] {
  const out: ResolvedStream[] = [];
  for (const [name, raw] of Object.entries(objectOption('streams', value))) {
    const at = `streams.${name}`;
    if (methodNames.includes(name)) throw invalidOption(at, `is also a method: a name is either a method or a stream`);
    const spec = typeof raw === 'function' ? { handler: raw } : raw;
    if (!isPlainObject(spec)) throw invalidOption(at, 'must be an object with a handler');
    knownKeys(at, spec, STREAM_KEYS);
    const item = optionalString(`${at}.item`, spec.item);
    const { item: _item, ...shared } = spec;
    out.push(streamOf(resolveMethod(name, shared, 'streams'), item, 'streams'));
  }
  return out;
}

const SERVER_KIND_KEYS = ['kind', ...STREAM_KEYS.filter((k) => k !== 'item'), 'response'] as const;

/** Validate and default one `methods.<name>` of kind `server`. */
export function resolveServerMethod(
  name: string,
  spec: Record<string, unknown>,
  resolveMethod: (
    name: string,
    spec: unknown,
    section: string,
  ) => SharedFields & { readonly response: string | undefined },
): ResolvedStream {
  knownKeys(`methods.${name}`, spec, SERVER_KIND_KEYS);
  const { kind: _kind, ...shared } = spec;
  const m = resolveMethod(name, shared, 'methods');
  return streamOf(m, m.response, 'methods');
}

function streamOf(m: SharedFields, item: string | undefined, declaredIn: 'streams' | 'methods'): ResolvedStream {
  return Object.freeze({
    name: m.name,
    declaredIn,
    handler: m.handler as ServiceStreamHandler,
    request: m.request,
    item,
    idempotent: m.idempotent,
    maxConcurrent: m.maxConcurrent,
    maxQueued: m.maxQueued,
    rateLimit: m.rateLimit,
  });
}
