import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Cache, CacheSetOptions } from './cache.js';
import { checkCacheKey } from './cache-checks.js';
import { MemoryCache, type MemoryCacheOptions } from './memory-cache.js';
import type { RedisCache } from './redis-cache.js';

export interface TwoLevelCacheOptions {
  /** The shared level. Started and closed with this cache. */
  shared: RedisCache;
  /** The local level's bounds. Its TTL (default 5000 ms) bounds how stale a lost invalidation can leave it. */
  local?: MemoryCacheOptions;
  logger?: Logger;
}

/**
 * A local LRU in front of the shared Redis cache. A hit is in-process; a miss asks Redis,
 * then the loader. `set` and `delete` publish the key on `<prefix>invalidate`, and every
 * other instance drops its local copy, so a change is seen everywhere within a pub/sub
 * hop; if that message is lost (a reconnect), the local TTL bounds the staleness.
 */
export class TwoLevelCache implements Cache {
  readonly kind = 'two-level' as const;
  readonly #local: MemoryCache;
  readonly #shared: RedisCache;
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #origin = randomBytes(8).toString('hex');
  readonly #logger: Logger | undefined;
  readonly #localTtlMs: number;

  constructor(options: TwoLevelCacheOptions) {
    this.#shared = options.shared;
    this.#localTtlMs = options.local?.ttlMs ?? 5_000;
    this.#local = new MemoryCache({ ...options.local, ttlMs: this.#localTtlMs });
    this.#channel = `${this.#shared.prefix}invalidate`;
    this.#logger = options.logger;
    this.#subscriber = new Redis(this.#shared.url, { lazyConnect: true });
    this.#subscriber.on('error', (err: Error) =>
      this.#logger?.warn({ err: err.message }, 'cache: invalidation channel error'),
    );
    this.#subscriber.on('message', (_channel: string, message: string) => {
      const sep = message.indexOf(' ');
      if (message.slice(0, sep) !== this.#origin) this.#local.drop(message.slice(sep + 1));
    });
  }

  /** The local level (for tests and metrics). */
  get local(): MemoryCache {
    return this.#local;
  }

  async start(): Promise<void> {
    await this.#shared.start();
    if (this.#subscriber.status === 'wait') await this.#subscriber.connect();
    await this.#subscriber.subscribe(this.#channel);
  }

  async close(): Promise<void> {
    await this.#subscriber.quit().catch(() => this.#subscriber.disconnect());
    await this.#shared.close();
    await this.#local.close();
  }

  async #invalidate(key: string): Promise<void> {
    await this.#shared.client.publish(this.#channel, `${this.#origin} ${key}`);
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const local = this.#local.peek<T>(checkCacheKey(key));
    if (local !== undefined || this.#local.has(key)) return local;
    const shared = await this.#shared.get<T>(key);
    if (shared !== undefined) this.#local.put(key, shared);
    return shared;
  }

  async set(key: string, value: unknown, options?: CacheSetOptions): Promise<void> {
    await this.#shared.set(key, value, options);
    this.#local.put(
      key,
      value,
      options?.ttlMs === undefined ? undefined : { ttlMs: Math.min(options.ttlMs, this.#localTtl()) },
    );
    await this.#invalidate(key);
  }

  #localTtl(): number {
    return 5_000;
  }

  async delete(key: string): Promise<void> {
    await this.#shared.delete(key);
    this.#local.drop(key);
    await this.#invalidate(key);
  }

  // async: bad input rejects like every other call, never throws synchronously.
  async getOrLoad<T>(key: string, loader: () => Promise<T> | T, options?: CacheSetOptions): Promise<T> {
    const local = this.#local.peek<T>(checkCacheKey(key));
    if (local !== undefined) return local;
    // The shared level coalesces concurrent misses: one loader run, one Redis round trip.
    const value = await this.#shared.getOrLoad(key, loader, options);
    if (value !== undefined) this.#local.put(key, value);
    return value;
  }
}
