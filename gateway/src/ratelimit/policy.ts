import { InvalidOptionsError } from '@switchyard/broker';

/** What a route's limit counts per: the authenticated subject, the API key, or the client IP. */
export type RateLimitKeyKind = 'subject' | 'apiKey' | 'ip';

/** A route's rate limit as written in the route configuration. */
export interface RateLimitConfig {
  /** Requests allowed per window (integer >= 1). */
  points: number;
  /** Window length in whole seconds (>= 1): the stores count in whole seconds. */
  durationSeconds: number;
  /** What the limit counts per. */
  key: RateLimitKeyKind;
  /** Once over the limit, refuse this key for this many seconds (default 0: until the window ends). */
  blockSeconds?: number;
}

/** What to do when the shared store (Redis, the cluster primary) does not answer in time. */
export type StoreFailureMode = 'insurance' | 'allow' | 'deny';

export const STORE_FAILURE_MODES: readonly StoreFailureMode[] = ['insurance', 'allow', 'deny'];

const KEY_KINDS: readonly RateLimitKeyKind[] = ['subject', 'apiKey', 'ip'];

/** A validated limit: every field present. Frozen. */
export interface RateLimitPolicy {
  readonly points: number;
  readonly durationSeconds: number;
  readonly key: RateLimitKeyKind;
  readonly blockSeconds: number;
}

/**
 * Validates a route's limit; `where` names it in the error (e.g. `routes.orders.rateLimit`).
 * Whole seconds only: RateLimiterRedis floors the window to seconds, and a window that
 * floors to 0 would never expire.
 */
export function parseRateLimitPolicy(value: unknown, where = 'rateLimit'): RateLimitPolicy {
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionsError(`${where}: must be an object { points, durationSeconds, key, blockSeconds? }`);
  }
  const v = value as Record<string, unknown>;
  const int = (name: string, min: number, fallback?: number): number => {
    const x = v[name] ?? fallback;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min) {
      throw new InvalidOptionsError(`${where}.${name}: must be an integer >= ${min}, got ${JSON.stringify(x)}`);
    }
    return x;
  };
  const points = int('points', 1);
  const durationSeconds = int('durationSeconds', 1);
  const blockSeconds = int('blockSeconds', 0, 0);
  if (!KEY_KINDS.includes(v.key as RateLimitKeyKind)) {
    throw new InvalidOptionsError(`${where}.key: must be one of ${KEY_KINDS.join(', ')}, got ${JSON.stringify(v.key)}`);
  }
  return Object.freeze({ points, durationSeconds, key: v.key as RateLimitKeyKind, blockSeconds });
}

/** A short stable text that changes whenever the policy does; part of every store key. */
export function policyFingerprint(p: RateLimitPolicy): string {
  return `${p.key}.${p.points}.${p.durationSeconds}.${p.blockSeconds}`;
}
