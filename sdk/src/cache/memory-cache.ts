import { LRUCache } from 'lru-cache';
import type { Cache, CacheSetOptions } from './cache.js';
import { cacheOption, checkCacheKey, checkTtl } from './cache-checks.js';
import { Coalescer } from './coalescer.js';

export interface MemoryCacheOptions {
  /** Most entries kept; the least recently used go first. Default 10000. */
  maxEntries?: number;
  /** Default lifetime of an entry, ms. Default 60000. */
  ttlMs?: number;
}

/** lru-cache needs a non-nullish value; undefined is "not cached", null is a value. */
type Box = { v: unknown };

/**
 * The in-process cache (lru-cache): bounded by entries, entries expire by TTL. Values are
 * kept by reference: do not mutate what you put in or get out. `peek` answers a hit
 * without a promise, for hot paths.
 */
export class MemoryCache implements Cache {
  readonly kind = 'memory' as const;
  readonly #lru: LRUCache<string, Box>;
  readonly #coalescer = new Coalescer();
  readonly #ttlMs: number;

  constructor(options: MemoryCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw cacheOption('MemoryCache', 'maxEntries', 'must be a whole number >= 1');
    this.#ttlMs = checkTtl('MemoryCache', options.ttlMs) ?? 60_000;
    this.#lru = new LRUCache<string, Box>({ max: maxEntries, ttl: this.#ttlMs, ttlAutopurge: false });
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.#lru.clear();
  }

  /** A hit, synchronously; undefined on a miss. */
  peek<T = unknown>(key: string): T | undefined {
    return this.#lru.get(key)?.v as T | undefined;
  }

  /** Whether `key` holds a live entry. */
  has(key: string): boolean {
    return this.#lru.has(key);
  }

  get size(): number {
    return this.#lru.size;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return this.#lru.get(checkCacheKey(key))?.v as T | undefined;
  }

  /** Synchronous set, for the two-level cache and hot paths. */
  put(key: string, value: unknown, options?: CacheSetOptions): void {
    const ttl = checkTtl('cache set', options?.ttlMs) ?? this.#ttlMs;
    this.#lru.set(checkCacheKey(key), { v: value }, { ttl });
  }

  async set(key: string, value: unknown, options?: CacheSetOptions): Promise<void> {
    this.put(key, value, options);
  }

  /** Drop a key locally (what an invalidation message does). */
  drop(key: string): void {
    this.#lru.delete(key);
  }

  async delete(key: string): Promise<void> {
    this.#lru.delete(checkCacheKey(key));
  }

  // async: bad input rejects like every other call, never throws synchronously.
  async getOrLoad<T>(key: string, loader: () => Promise<T> | T, options?: CacheSetOptions): Promise<T> {
    const hit = this.#lru.get(checkCacheKey(key));
    if (hit) return hit.v as T;
    checkTtl('cache getOrLoad', options?.ttlMs);
    return this.#coalescer.run(key, async () => {
      const value = await loader();
      if (value !== undefined) this.put(key, value, options);
      return value;
    });
  }
}
