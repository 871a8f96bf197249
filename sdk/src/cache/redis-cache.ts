import { InvalidArgumentError, isSwitchyardError, UnavailableError } from '@switchyard/broker';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Cache, CacheSetOptions } from './cache.js';
import { cacheOption, checkCacheKey, checkTtl } from './cache-checks.js';
import { Coalescer } from './coalescer.js';

export interface RedisCacheOptions {
  /** `redis://…` or `rediss://…`. Required. */
  url: string;
  /** Prefix of every key. Default `sy:cache:`. */
  keyPrefix?: string;
  /** Default lifetime, ms. Default 60000. */
  ttlMs?: number;
  tls?: { ca?: string; cert?: string; key?: string };
  /** A call fails UNAVAILABLE after this long, ms. Default 2000. */
  commandTimeoutMs?: number;
  logger?: Logger;
}

/**
 * A cache in Redis, shared by every instance: values as JSON with Redis's own expiry.
 * Redis down is UNAVAILABLE on get/set; `getOrLoad` then serves from the loader (a cache
 * must not take a service down with it) and logs.
 */
export class RedisCache implements Cache {
  readonly kind = 'redis' as const;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #coalescer = new Coalescer();
  readonly #logger: Logger | undefined;
  readonly #url: string;

  constructor(options: RedisCacheOptions) {
    if (typeof options?.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
      throw cacheOption('RedisCache', 'url', 'must be a redis:// or rediss:// URL');
    }
    this.#url = options.url;
    this.#prefix = options.keyPrefix ?? 'sy:cache:';
    this.#ttlMs = checkTtl('RedisCache', options.ttlMs) ?? 60_000;
    this.#logger = options.logger;
    this.#redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      ...(options.tls ? { tls: { ...options.tls } } : {}),
    });
    this.#redis.on('error', (err: Error) => this.#logger?.warn({ err: err.message }, 'cache: Redis connection error'));
  }

  get client(): Redis {
    return this.#redis;
  }

  /** Options to open another connection to the same Redis (the two-level cache's subscriber). */
  get url(): string {
    return this.#url;
  }

  get prefix(): string {
    return this.#prefix;
  }

  async start(): Promise<void> {
    if (this.#redis.status === 'wait') await this.#call(() => this.#redis.connect());
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  async #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (isSwitchyardError(err)) throw err;
      throw new UnavailableError(`the Redis cache is unavailable (${(err as Error).message})`, { cause: err });
    }
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const raw = await this.#call(() => this.#redis.get(this.#prefix + checkCacheKey(key)));
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async set(key: string, value: unknown, options?: CacheSetOptions): Promise<void> {
    const k = checkCacheKey(key);
    const ttl = checkTtl('cache set', options?.ttlMs) ?? this.#ttlMs;
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch (err) {
      throw new InvalidArgumentError(
        `cache value for ${JSON.stringify(k)} cannot be serialised as JSON: ${(err as Error).message}`,
      );
    }
    if (json === undefined)
      throw new InvalidArgumentError(`cache value for ${JSON.stringify(k)} cannot be serialised as JSON`);
    await this.#call(() => this.#redis.set(this.#prefix + k, json!, 'PX', ttl));
  }

  async delete(key: string): Promise<void> {
    await this.#call(() => this.#redis.del(this.#prefix + checkCacheKey(key)));
  }

  // async: bad input rejects like every other call, never throws synchronously.
  async getOrLoad<T>(key: string, loader: () => Promise<T> | T, options?: CacheSetOptions): Promise<T> {
    checkCacheKey(key);
    checkTtl('cache getOrLoad', options?.ttlMs);
    return this.#coalescer.run(key, async () => {
      let cached: T | undefined;
      try {
        cached = await this.get<T>(key);
      } catch (err) {
        this.#logger?.warn({ err: (err as Error).message, key }, 'cache: Redis get failed; loading instead');
      }
      if (cached !== undefined) return cached;
      const value = await loader();
      if (value !== undefined) {
        await this.set(key, value, options).catch((err: Error) =>
          this.#logger?.warn({ err: err.message, key }, 'cache: Redis set failed; value served uncached'),
        );
      }
      return value;
    });
  }
}
