export type { Cache, CacheKind, CacheSetOptions } from './cache.js';
export { CACHE_ENV, cacheFromEnv } from './cache-from-env.js';
export { Coalescer } from './coalescer.js';
export { MemoryCache, type MemoryCacheOptions } from './memory-cache.js';
export { RedisCache, type RedisCacheOptions } from './redis-cache.js';
export { TwoLevelCache, type TwoLevelCacheOptions } from './two-level-cache.js';
