import { InvalidOptionsError } from '@switchyard/broker';
import type { Logger } from 'pino';
import { readTlsEnv } from '../config/tls-env.js';
import type { Cache } from './cache.js';
import { MemoryCache } from './memory-cache.js';
import { RedisCache } from './redis-cache.js';
import { TwoLevelCache } from './two-level-cache.js';

export const CACHE_ENV = 'SWITCHYARD_CACHE';

/**
 * The cache SWITCHYARD_CACHE names: `memory` (default, this process) or `redis://…` /
 * `rediss://…`: a local LRU in front of Redis, kept coherent over Redis pub/sub, keys under
 * `sy:cache:<namespace>:`. Not started.
 */
export function cacheFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  context: { namespace: string; logger?: Logger },
): Cache {
  const raw = env[CACHE_ENV]?.trim() || 'memory';
  if (raw === 'memory') return new MemoryCache();
  if (/^rediss?:\/\//.test(raw)) {
    const tls = readTlsEnv(env, 'redis', { source: CACHE_ENV, secure: raw.startsWith('rediss://') });
    const logger = context.logger;
    const shared = new RedisCache({
      url: raw,
      keyPrefix: `sy:cache:${context.namespace}:`,
      ...(tls ? { tls } : {}),
      ...(logger ? { logger } : {}),
    });
    return new TwoLevelCache({ shared, ...(logger ? { logger } : {}) });
  }
  throw new InvalidOptionsError(`${CACHE_ENV} must be redis://…, rediss://… or "memory", got ${JSON.stringify(raw)}`, {
    details: { option: CACHE_ENV },
  });
}
