import { hostname } from 'node:os';
import { type Codec, CodecRegistry, jsonCodec, msgpackCodec } from '../codec.js';
import { InvalidOptionsError } from '../errors.js';
import { type AmqpTlsOptions, resolveTlsOptions } from './tls-options.js';

/**
 * The logging calls the transport makes. A pino logger fits as is; so does anything with
 * these four methods taking `(object, message)`.
 */
export interface TransportLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AmqpTransportOptions {
  /** AMQP URL, e.g. `amqp://guest:guest@127.0.0.1:5672`. Required. */
  url: string;
  /** Prefix of every exchange and queue name (docs/protocol.md `<ns>`). Default 'switchyard'. */
  namespace?: string;
  /** pino-compatible logger. Default: silent. */
  logger?: TransportLogger;
  /** Default max unacked messages per subscriber / server. Default 100. */
  prefetch?: number;
  /** Max publishes waiting for a confirm (or for the connection) before BUFFER_FULL. Default 10000. */
  publishBufferSize?: number;
  /** How long `publish()` waits for RabbitMQ's confirm, reconnects included, before UNAVAILABLE. Default 30000. */
  publishTimeoutMs?: number;
  /** Call timeout when the caller gives none. Default 30000. */
  defaultTimeoutMs?: number;
  /**
   * How long closing a subscription or server waits for handlers in flight. Past it the
   * channel closes anyway and RabbitMQ requeues their messages for another instance, so a
   * handler that ignores its abort signal cannot hold shutdown forever. Default 30000.
   */
  drainTimeoutMs?: number;
  /** Codecs by content type. Default: JSON and msgpack. */
  codecs?: readonly Codec[];
  /** Content type for payloads when the caller names none. Default 'application/json'. */
  defaultContentType?: string;
  /** How long `start()` waits for RabbitMQ (retrying) before UNAVAILABLE; also the socket connect timeout. Default 10000. */
  connectTimeoutMs?: number;
  /** AMQP heartbeat in seconds; 0 disables it. Default: what RabbitMQ suggests (60). */
  heartbeat?: number;
  /**
   * Shown as `connection_name` in RabbitMQ (suffixed `/publish` and `/consume`), so
   * operators can tell the two connections of an instance apart. Default `<namespace>@<host>:<pid>`.
   */
  connectionName?: string;
  /** TLS of `amqps://` links: CA, client certificate, server name. Default: node's root CAs, no client certificate. */
  tls?: AmqpTlsOptions;
}

export interface ResolvedOptions {
  readonly url: string;
  readonly namespace: string;
  readonly logger: TransportLogger;
  readonly prefetch: number;
  readonly publishBufferSize: number;
  readonly publishTimeoutMs: number;
  readonly defaultTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly codecs: CodecRegistry;
  readonly connectTimeoutMs: number;
  readonly heartbeat: number | undefined;
  readonly connectionName: string;
  readonly tls: Readonly<AmqpTlsOptions> | undefined;
}

export const DEFAULT_NAMESPACE = 'switchyard';
export const DEFAULT_PREFETCH = 100;
export const DEFAULT_PUBLISH_BUFFER_SIZE = 10_000;
export const DEFAULT_PUBLISH_TIMEOUT_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

const noop = () => {};
export const silentLogger: TransportLogger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/** Names must survive being part of an AMQP queue name (max 255 bytes) and a routing key. */
const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.:-]*$/;

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new InvalidOptionsError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

/** Validate, default and freeze the options; throws InvalidOptionsError naming the bad option. */
export function resolveOptions(options: AmqpTransportOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionsError('options must be an object');
  const { url } = options;
  if (typeof url !== 'string' || !/^amqps?:\/\//.test(url))
    throw new InvalidOptionsError('url must be an amqp:// or amqps:// URL');
  try {
    new URL(url);
  } catch {
    throw new InvalidOptionsError('url is not a valid URL');
  }
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  if (typeof namespace !== 'string' || !NAME_RE.test(namespace) || namespace.length > 100)
    throw new InvalidOptionsError(
      `namespace must be 1-100 characters of letters, digits, '_', '-', '.', ':', got ${JSON.stringify(namespace)}`,
    );
  const logger = options.logger ?? silentLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') throw new InvalidOptionsError(`logger must have a ${level}() method`);
  }
  const heartbeat = options.heartbeat;
  if (heartbeat !== undefined && (typeof heartbeat !== 'number' || !Number.isInteger(heartbeat) || heartbeat < 0))
    throw new InvalidOptionsError(
      `heartbeat must be a non-negative integer (seconds), got ${JSON.stringify(heartbeat)}`,
    );
  const defaultContentType = options.defaultContentType ?? jsonCodec.contentType;
  if (typeof defaultContentType !== 'string')
    throw new InvalidOptionsError('defaultContentType must be a content type string');
  if (options.codecs !== undefined && !Array.isArray(options.codecs))
    throw new InvalidOptionsError('codecs must be an array of codecs');
  // CodecRegistry names the option itself when the default type has no codec.
  const codecs = new CodecRegistry(options.codecs ?? [jsonCodec, msgpackCodec], defaultContentType);
  const connectionName = options.connectionName ?? `${namespace}@${hostname()}:${process.pid}`;
  if (typeof connectionName !== 'string' || connectionName.length === 0)
    throw new InvalidOptionsError('connectionName must be a non-empty string');
  return Object.freeze({
    url,
    namespace,
    logger,
    prefetch: positiveInt('prefetch', options.prefetch, DEFAULT_PREFETCH),
    publishBufferSize: positiveInt('publishBufferSize', options.publishBufferSize, DEFAULT_PUBLISH_BUFFER_SIZE),
    publishTimeoutMs: positiveInt('publishTimeoutMs', options.publishTimeoutMs, DEFAULT_PUBLISH_TIMEOUT_MS),
    defaultTimeoutMs: positiveInt('defaultTimeoutMs', options.defaultTimeoutMs, DEFAULT_TIMEOUT_MS),
    drainTimeoutMs: positiveInt('drainTimeoutMs', options.drainTimeoutMs, DEFAULT_TIMEOUT_MS),
    codecs,
    connectTimeoutMs: positiveInt('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    heartbeat,
    connectionName,
    tls: resolveTlsOptions(url, options.tls),
  });
}

/** A name used inside queue names and routing keys (service, group). */
export function isValidName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 120 && NAME_RE.test(value);
}
