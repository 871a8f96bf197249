import { once } from 'node:events';
import { InvalidOptionsError, type Pem } from '@switchyard/broker';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { type RateLimitLogger, ThrottledFailureLog } from './failure-log.js';
import type { LimiterSpec, RateLimitStore, StoreLimiter } from './store.js';

export interface RedisRateLimitStoreOptions {
  /** `redis://host:port/db` for a client the store owns. Exactly one of `url` and `client`. */
  url?: string;
  /**
   * A client you own (not closed by `close()`). It must have `enableOfflineQueue: false`,
   * or calls made while Redis is down would queue instead of failing fast.
   */
  client?: Redis;
  /**
   * TLS of a `rediss://` URL (PEM contents): the CA to trust (default node's roots), a client
   * certificate for a Redis started with `--tls-auth-clients yes`, the expected server name.
   */
  tls?: RedisTlsOptions;
  /** Prefix of every key, so several deployments can share one Redis. Default `switchyard:rl`. */
  keyPrefix?: string;
  /** Bound on one Redis command, ms. Default 250. */
  commandTimeoutMs?: number;
  /** Bound on connecting, and on how long `start()` waits for Redis, ms. Default 2000. */
  connectTimeoutMs?: number;
  logger?: RateLimitLogger;
}

export interface RedisTlsOptions {
  ca?: Pem;
  cert?: Pem;
  key?: Pem;
  /** Default: the URL's host name. */
  servername?: string;
}

export const DEFAULT_REDIS_KEY_PREFIX = 'switchyard:rl';
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 250;
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 2000;

/**
 * Counters in Redis, shared by every gateway pointed at it. While Redis is unreachable
 * every call fails at once (no offline queue) and the rate limiter's failure mode
 * decides; ioredis keeps reconnecting in the background.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly kind = 'redis';
  readonly remote = true;
  readonly keyPrefix: string;
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #connectTimeoutMs: number;
  readonly #logger: RateLimitLogger | undefined;
  readonly #log: ThrottledFailureLog;
  readonly #onError = (err: Error) => this.#log.report({ err: err.message }, 'rate limit store: redis error');
  #started = false;
  #closed = false;

  constructor(options: RedisRateLimitStoreOptions) {
    if ((options.url === undefined) === (options.client === undefined)) {
      throw new InvalidOptionsError('url/client: give exactly one of a Redis URL and a Redis client');
    }
    const commandTimeoutMs = positive(options.commandTimeoutMs, DEFAULT_REDIS_COMMAND_TIMEOUT_MS, 'commandTimeoutMs');
    this.#connectTimeoutMs = positive(options.connectTimeoutMs, DEFAULT_REDIS_CONNECT_TIMEOUT_MS, 'connectTimeoutMs');
    this.keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    if (typeof this.keyPrefix !== 'string' || this.keyPrefix === '') {
      throw new InvalidOptionsError('keyPrefix: must be a non-empty string');
    }
    this.#logger = options.logger;
    this.#log = new ThrottledFailureLog(options.logger);
    if (options.client) {
      if (options.client.options.enableOfflineQueue !== false) {
        throw new InvalidOptionsError('client: must be created with enableOfflineQueue: false');
      }
      this.#client = options.client;
      this.#owned = false;
    } else {
      if (!/^rediss?:\/\//.test(options.url!)) {
        throw new InvalidOptionsError(`url: must be a redis:// or rediss:// URL, got ${JSON.stringify(options.url)}`);
      }
      this.#client = new Redis(options.url!, {
        ...redisTls(options.url!, options.tls),
        lazyConnect: true,
        // Fail instead of queueing while disconnected: a queued rate-limit check is a hung request.
        enableOfflineQueue: false,
        // A command in flight when the connection drops fails instead of waiting for a reconnect.
        maxRetriesPerRequest: 0,
        commandTimeout: commandTimeoutMs,
        connectTimeout: this.#connectTimeoutMs,
        retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      });
      this.#owned = true;
    }
    this.#client.on('error', this.#onError);
  }

  /** The Redis client (for health checks); owned by the store unless you passed it in. */
  get client(): Redis {
    return this.#client;
  }

  createLimiter(spec: LimiterSpec): StoreLimiter {
    // Routes may be installed before start(): begin connecting now, so a forgotten or late
    // start() costs a few requests under the failure mode rather than all of them.
    this.#connect();
    return new RateLimiterRedis({
      storeClient: this.#client,
      keyPrefix: `${this.keyPrefix}:${spec.name}`,
      points: spec.points,
      duration: spec.durationSeconds,
      blockDuration: spec.blockSeconds,
      rejectIfRedisNotReady: true,
    });
  }

  /**
   * Connects (owned client) and waits up to `connectTimeoutMs` for Redis to be ready. A
   * Redis that is down does not fail start: the gateway serves under its failure mode
   * and picks Redis up when it comes back.
   */
  async start(): Promise<void> {
    if (this.#started || this.#closed) return;
    this.#started = true;
    if (this.#client.status === 'ready') return;
    this.#connect();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.#connectTimeoutMs);
    try {
      // Rejects early on the first connection error: no point waiting out the timeout then.
      await once(this.#client, 'ready', { signal: ac.signal });
    } catch (err) {
      this.#logger?.warn(
        { status: this.#client.status, err: (err as Error).message },
        'rate limit store: redis not ready at start; serving under the failure mode until it is',
      );
    } finally {
      clearTimeout(timer);
    }
  }

  #connect(): void {
    // connect() rejects on a first failure, but ioredis keeps retrying: the error event logs it.
    if (this.#owned && !this.#closed && this.#client.status === 'wait') this.#client.connect().catch(() => {});
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owned) {
      this.#client.off('error', this.#onError);
      return;
    }
    // The error listener stays on an owned client: ioredis prints unhandled error events.
    if (this.#client.status === 'ready') {
      const timer = setTimeout(() => this.#client.disconnect(), this.#connectTimeoutMs);
      await this.#client.quit().catch(() => {});
      clearTimeout(timer);
    }
    this.#client.disconnect();
  }
}

/** ioredis `tls` (node tls.connect options). TLS settings on a plain redis:// URL are refused: nothing would be encrypted. */
function redisTls(url: string, tls: RedisTlsOptions | undefined): { tls?: RedisTlsOptions } {
  if (tls === undefined) return {};
  if (typeof tls !== 'object' || tls === null)
    throw new InvalidOptionsError('tls: must be an object { ca?, cert?, key? }');
  if (!url.startsWith('rediss://')) {
    throw new InvalidOptionsError('tls: is set but url is redis:// (plain): use rediss:// for TLS');
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new InvalidOptionsError(
      `tls.cert/tls.key: must be given together (only ${tls.cert === undefined ? 'tls.key' : 'tls.cert'} is set)`,
    );
  }
  return { tls: { ...tls } };
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new InvalidOptionsError(`${name}: must be a positive number of milliseconds, got ${JSON.stringify(value)}`);
  }
  return v;
}
