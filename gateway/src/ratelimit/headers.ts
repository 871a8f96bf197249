import type { RateLimitPolicy } from './policy.js';

/**
 * Response headers of a rate-limited route, after the IETF draft "RateLimit header
 * fields for HTTP" (draft-ietf-httpapi-ratelimit-headers, the widely deployed
 * separate-field form): RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds
 * until the window resets), RateLimit-Policy (`100;w=60`), plus Retry-After when refused.
 */
export type RateLimitHeaders = Readonly<Record<string, string>>;

/** The two header values that depend only on the policy, computed once per route. */
export interface StaticRateLimitHeaders {
  readonly limit: string;
  readonly policy: string;
}

export function staticHeaders(p: RateLimitPolicy): StaticRateLimitHeaders {
  return { limit: String(p.points), policy: `${p.points};w=${p.durationSeconds}` };
}

/** Whole seconds until `msBeforeNext` has passed, never 0 for a positive wait. */
export function secondsUntil(msBeforeNext: number): number {
  return msBeforeNext > 0 ? Math.ceil(msBeforeNext / 1000) : 0;
}

export function allowedHeaders(s: StaticRateLimitHeaders, remaining: number, msBeforeNext: number): RateLimitHeaders {
  return {
    'RateLimit-Limit': s.limit,
    'RateLimit-Remaining': String(Math.max(0, remaining)),
    'RateLimit-Reset': String(secondsUntil(msBeforeNext)),
    'RateLimit-Policy': s.policy,
  };
}

export function limitedHeaders(s: StaticRateLimitHeaders, retryAfterSeconds: number): RateLimitHeaders {
  const wait = String(retryAfterSeconds);
  return {
    'RateLimit-Limit': s.limit,
    'RateLimit-Remaining': '0',
    'RateLimit-Reset': wait,
    'RateLimit-Policy': s.policy,
    'Retry-After': wait,
  };
}
