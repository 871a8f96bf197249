import { readTlsEnv } from '@switchyard/sdk';
import type { RateLimitLogger } from './failure-log.js';
import { MemoryRateLimitStore } from './memory-store.js';
import { RedisRateLimitStore, type RedisRateLimitStoreOptions } from './redis-store.js';
import type { RateLimitStore } from './store.js';

/** The environment variable naming the Redis that gateways share their counters in. */
export const REDIS_URL_ENV = 'SWITCHYARD_REDIS';

/**
 * The store the environment asks for: Redis when `SWITCHYARD_REDIS` holds a URL, memory
 * otherwise. (The cluster store is chosen in code, by the process that forks workers.)
 * A `rediss://` URL takes its CA and client certificate from SWITCHYARD_REDIS_CA/CERT/KEY
 * (or the shared SWITCHYARD_TLS_CLIENT_*), read here, once.
 */
export function rateLimitStoreFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: Omit<RedisRateLimitStoreOptions, 'url' | 'client'> & { logger?: RateLimitLogger } = {},
): RateLimitStore {
  const url = env[REDIS_URL_ENV]?.trim();
  const tls = readTlsEnv(env, 'redis', { source: REDIS_URL_ENV, secure: url?.startsWith('rediss://') === true });
  if (!url) return new MemoryRateLimitStore();
  return new RedisRateLimitStore({ ...options, url, ...(tls ? { tls } : {}) });
}
