/** Options of MemoryTransport: typed, defaulted, validated once at construction, then frozen. */
import { type Codec, CodecRegistry } from '../codec.js';
import { InvalidOptionsError } from '../errors.js';
import { MemoryBus } from './bus.js';

export interface MemoryTransportOptions {
  /**
   * The bus to share with other transports in this process (several "instances" of a
   * service on one broker). Default: a private bus, closed with the transport.
   */
  bus?: MemoryBus;
  /** Prefix of every queue name, as on RabbitMQ. Default `switchyard`. */
  namespace?: string;
  /** Codecs this transport can encode and decode. Default JSON and msgpack. */
  codecs?: readonly Codec[];
  /** Content type used when a publish or call names none. Default `application/json`. */
  defaultContentType?: string;
  /** Call timeout when a call sets neither `timeoutMs` nor `deadline`, in ms. Default 30000. */
  defaultTimeoutMs?: number;
  /** Stream window when a stream call sets none. Default 16. */
  defaultStreamWindow?: number;
  /** Prefetch of subscriptions and servers that set none. Default 100. */
  defaultPrefetch?: number;
  /**
   * How long `close()` (of a subscription, a server or the transport) waits for handlers
   * in flight. After that, their events go back to the queue as redelivered, their
   * requests to another server (or fail UNAVAILABLE), and their signals abort. Default 30000.
   */
  drainTimeoutMs?: number;
}

export const MEMORY_TRANSPORT_DEFAULTS = Object.freeze({
  namespace: 'switchyard',
  defaultContentType: 'application/json',
  defaultTimeoutMs: 30_000,
  defaultStreamWindow: 16,
  defaultPrefetch: 100,
  drainTimeoutMs: 30_000,
});

export interface ResolvedMemoryOptions {
  readonly bus: MemoryBus;
  readonly ownsBus: boolean;
  readonly namespace: string;
  readonly codecs: CodecRegistry;
  readonly defaultTimeoutMs: number;
  readonly defaultStreamWindow: number;
  readonly defaultPrefetch: number;
  readonly drainTimeoutMs: number;
}

const KNOWN = new Set([
  'bus',
  'namespace',
  'codecs',
  'defaultContentType',
  'defaultTimeoutMs',
  'defaultStreamWindow',
  'defaultPrefetch',
  'drainTimeoutMs',
]);

export function resolveMemoryOptions(options: MemoryTransportOptions = {}): ResolvedMemoryOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('MemoryTransport: options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new InvalidOptionsError(`MemoryTransport: unknown option "${key}"`);
  }
  const d = MEMORY_TRANSPORT_DEFAULTS;
  if (options.bus !== undefined && !(options.bus instanceof MemoryBus))
    throw new InvalidOptionsError('MemoryTransport: bus must be a MemoryBus');
  const namespace = options.namespace ?? d.namespace;
  assertName(namespace, 'namespace');
  if (options.codecs !== undefined && (!Array.isArray(options.codecs) || options.codecs.length === 0))
    throw new InvalidOptionsError('MemoryTransport: codecs must be a non-empty array');
  const codecs = new CodecRegistry(options.codecs, options.defaultContentType ?? d.defaultContentType);
  return Object.freeze({
    bus: options.bus ?? new MemoryBus(),
    ownsBus: options.bus === undefined,
    namespace,
    codecs,
    defaultTimeoutMs: positive(options.defaultTimeoutMs ?? d.defaultTimeoutMs, 'defaultTimeoutMs'),
    defaultStreamWindow: positiveInteger(options.defaultStreamWindow ?? d.defaultStreamWindow, 'defaultStreamWindow'),
    defaultPrefetch: positiveInteger(options.defaultPrefetch ?? d.defaultPrefetch, 'defaultPrefetch'),
    drainTimeoutMs: nonNegative(options.drainTimeoutMs ?? d.drainTimeoutMs, 'drainTimeoutMs'),
  });
}

/** Queue-name parts: non-empty, no whitespace (RabbitMQ would accept it, operators would not thank us). */
export function assertName(value: unknown, option: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || /\s/.test(value) || Buffer.byteLength(value) > 200)
    throw new InvalidOptionsError(`${option} must be a non-empty string without whitespace (at most 200 bytes)`);
}

export function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new InvalidOptionsError(`${option} must be an integer >= 1, got ${String(value)}`);
  return value;
}

function positive(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new InvalidOptionsError(`${option} must be a finite number > 0, got ${String(value)}`);
  return value;
}

function nonNegative(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new InvalidOptionsError(`${option} must be a finite number >= 0, got ${String(value)}`);
  return value;
}
