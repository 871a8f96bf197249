import type { RateLimiterRes } from 'rate-limiter-flexible';

/** One limiter to build: a route's policy, named so that stores can keep limiters apart. */
export interface LimiterSpec {
  /**
   * Unique per route and policy (route id + policy fingerprint). Stores put it in their
   * keys, so a changed policy starts fresh counters and two routes never share one.
   */
  readonly name: string;
  readonly points: number;
  readonly durationSeconds: number;
  readonly blockSeconds: number;
}

/**
 * The counting part of a limiter, as rate-limiter-flexible defines it: `consume` resolves
 * with a RateLimiterRes when allowed, rejects with a RateLimiterRes when limited, and
 * rejects with an Error when the store failed. Every rate-limiter-flexible limiter fits.
 */
export interface StoreLimiter {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
}

/**
 * Where counters live. Memory (one process), Redis (every gateway sharing it) and the
 * node cluster primary (every worker of one machine) implement it; anything else that
 * can produce rate-limiter-flexible limiters can too.
 */
export interface RateLimitStore {
  /** For logs and docs: `memory`, `redis`, `cluster`. */
  readonly kind: string;
  /**
   * Whether a consume can fail or hang (network, another process). False lets the caller
   * skip the per-call timeout for stores that answer synchronously from memory.
   */
  readonly remote: boolean;
  /** Builds a limiter; called when routes change, never per request. */
  createLimiter(spec: LimiterSpec): StoreLimiter;
  /** Idempotent. Never rejects because the backend is down: failure modes handle that. */
  start(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
