/**
 * Caches (Go Micro's `cache`): an in-process LRU with TTLs and a size bound, a Redis cache
 * shared by instances, and the two together with invalidation over Redis pub/sub. Every
 * one coalesces concurrent misses: `getOrLoad` runs one loader per key at a time.
 */
export interface CacheSetOptions {
  /** Expire this long after the set, ms. Default the cache's `ttlMs`. */
  ttlMs?: number;
}

export type CacheKind = 'memory' | 'redis' | 'two-level';

export interface Cache {
  readonly kind: CacheKind;
  start(): Promise<void>;
  close(): Promise<void>;
  /** The value, or undefined on a miss (expired counts as a miss). */
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, options?: CacheSetOptions): Promise<void>;
  /** Remove a key (and, two-level, from every instance's local level). */
  delete(key: string): Promise<void>;
  /**
   * The cached value, else the loader's result (cached, then returned). Concurrent misses
   * of one key share one loader run; a loader that fails caches nothing and fails them all.
   * A loader returning undefined caches nothing.
   */
  getOrLoad<T>(key: string, loader: () => Promise<T> | T, options?: CacheSetOptions): Promise<T>;
}
