import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { LimiterSpec, RateLimitStore, StoreLimiter } from './store.js';

/** Counters in this process only: one gateway, one process. The default. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = 'memory';
  readonly remote = false;

  createLimiter(spec: LimiterSpec): StoreLimiter {
    return memoryLimiter(spec);
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}

/** A per-process limiter for a spec; also the insurance limiter of remote stores. */
export function memoryLimiter(spec: LimiterSpec): RateLimiterMemory {
  return new RateLimiterMemory({
    keyPrefix: spec.name,
    points: spec.points,
    duration: spec.durationSeconds,
    blockDuration: spec.blockSeconds,
  });
}
