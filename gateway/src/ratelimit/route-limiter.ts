import { RateLimitedError, type SwitchyardError, UnavailableError } from '@switchyard/broker';
import type { RateLimiterRes } from 'rate-limiter-flexible';
import type { ThrottledFailureLog } from './failure-log.js';
import {
  allowedHeaders,
  limitedHeaders,
  type RateLimitHeaders,
  type StaticRateLimitHeaders,
  secondsUntil,
  staticHeaders,
} from './headers.js';
import type { RateLimitPolicy, StoreFailureMode } from './policy.js';
import type { StoreLimiter } from './store.js';
import type { StoreBreaker } from './store-breaker.js';

/** Who took the decision of a rate-limit check. */
export type RateLimitDecider =
  /** The configured store counted the request. */
  | 'store'
  /** The store failed; the per-process insurance limiter counted it. */
  | 'insurance'
  /** The store failed; `allow` or `deny` decided without counting. */
  | 'failure-mode'
  /** The route has no limit. */
  | 'none';

export interface RateLimitResult {
  readonly allowed: boolean;
  /** Set them on the response whether allowed or not (empty when nothing was counted). */
  readonly headers: RateLimitHeaders;
  /**
   * Why the request is refused, ready for the error response: RateLimitedError (429,
   * details `{ retryAfterSeconds, limit, windowSeconds }`) or, when the store is down and
   * the failure mode is `deny`, UnavailableError (503).
   */
  readonly error?: SwitchyardError;
  readonly decidedBy: RateLimitDecider;
}

/** Counters a rate limiter reports to; GatewayMetrics implements it. */
export interface RateLimitMetrics {
  rateLimited(routeId: string): void;
  rateLimitStoreFailure(routeId: string, mode: StoreFailureMode): void;
}

/** The store did not answer within the bound. */
class StoreTimeoutError extends Error {
  constructor(ms: number) {
    super(`rate limit store did not answer within ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

export interface RouteRateLimiterParts {
  routeId: string;
  policy: RateLimitPolicy;
  primary: StoreLimiter;
  /** Bound each store call with a timer (remote stores); 0 for in-process stores. */
  timeoutMs: number;
  onStoreFailure: StoreFailureMode;
  /** Required when onStoreFailure is 'insurance'. */
  insurance: StoreLimiter | undefined;
  metrics: RateLimitMetrics | undefined;
  failureLog: ThrottledFailureLog;
  /** Shared by the routes of one store; undefined for in-process stores. */
  breaker: StoreBreaker | undefined;
}

/**
 * The limiter of one route and policy. Built when routes change and reused for every
 * request, so its header values and limiter objects are made once.
 */
export class RouteRateLimiter {
  readonly routeId: string;
  readonly policy: RateLimitPolicy;
  readonly #p: RouteRateLimiterParts;
  readonly #static: StaticRateLimitHeaders;

  constructor(parts: RouteRateLimiterParts) {
    this.routeId = parts.routeId;
    this.policy = parts.policy;
    this.#p = parts;
    this.#static = staticHeaders(parts.policy);
  }

  /**
   * Counts one request for `key`. Never rejects; waits at most the store timeout, and not
   * at all while the breaker has the store marked as down.
   */
  consume(key: string): Promise<RateLimitResult> {
    // In-process store (no breaker, no timer): one `then` on the store's promise instead of
    // an async frame and its awaits, on every request.
    if (this.#p.breaker === undefined && this.#p.timeoutMs <= 0) {
      let pending: Promise<RateLimiterRes>;
      try {
        pending = this.#p.primary.consume(key);
      } catch (thrown) {
        // As when it was awaited: a thrown RateLimiterRes is "limited", anything else a failure.
        return Promise.resolve(this.#rejected(key, thrown));
      }
      return pending.then(this.#allowed, (rejection: unknown) => this.#rejected(key, rejection));
    }
    return this.#consumeGuarded(key);
  }

  readonly #allowed = (res: RateLimiterRes): RateLimitResult => this.#result(true, res, 'store');

  #rejected(key: string, rejection: unknown): RateLimitResult | Promise<RateLimitResult> {
    const outcome = asOutcome(rejection);
    if (outcome instanceof Error) return this.#storeFailed(key, outcome);
    return this.#result(false, outcome, 'store');
  }

  async #consumeGuarded(key: string): Promise<RateLimitResult> {
    const breaker = this.#p.breaker;
    if (breaker !== undefined && !breaker.allow()) return this.#storeFailed(key, STORE_SKIPPED);
    let outcome: RateLimiterRes | Error;
    let allowed: boolean;
    try {
      outcome = await this.#call(this.#p.primary, key);
      allowed = true;
    } catch (rejection) {
      outcome = asOutcome(rejection);
      allowed = false;
    }
    if (outcome instanceof Error) {
      breaker?.failure();
      return this.#storeFailed(key, outcome);
    }
    breaker?.success();
    return this.#result(allowed, outcome, 'store');
  }

  async #storeFailed(key: string, err: Error): Promise<RateLimitResult> {
    const mode = this.#p.onStoreFailure;
    this.#p.metrics?.rateLimitStoreFailure(this.routeId, mode);
    this.#p.failureLog.report(
      { route: this.routeId, mode, err: err.message },
      `rate limit store failed; ${mode === 'insurance' ? 'counting in this process' : mode === 'allow' ? 'allowing' : 'refusing'} requests`,
    );
    if (mode === 'allow') return { allowed: true, headers: NO_HEADERS, decidedBy: 'failure-mode' };
    if (mode === 'deny') {
      return {
        allowed: false,
        headers: NO_HEADERS,
        error: new UnavailableError('rate limiting is unavailable', { cause: err }),
        decidedBy: 'failure-mode',
      };
    }
    try {
      return this.#result(true, await this.#p.insurance!.consume(key), 'insurance');
    } catch (rejection) {
      const outcome = asOutcome(rejection);
      // A memory limiter does not fail; if a custom one does, do not take the gateway down with it.
      if (outcome instanceof Error) return { allowed: true, headers: NO_HEADERS, decidedBy: 'failure-mode' };
      return this.#result(false, outcome, 'insurance');
    }
  }

  #result(allowed: boolean, res: RateLimiterRes, decidedBy: RateLimitDecider): RateLimitResult {
    if (allowed) {
      return { allowed, headers: allowedHeaders(this.#static, res.remainingPoints, res.msBeforeNext), decidedBy };
    }
    const { points, durationSeconds } = this.policy;
    const retryAfterSeconds = Math.max(1, secondsUntil(res.msBeforeNext));
    this.#p.metrics?.rateLimited(this.routeId);
    return {
      allowed,
      headers: limitedHeaders(this.#static, retryAfterSeconds),
      error: new RateLimitedError(
        `rate limit of ${points} requests per ${durationSeconds} s exceeded; retry in ${retryAfterSeconds} s`,
        { details: { retryAfterSeconds, limit: points, windowSeconds: durationSeconds } },
      ),
      decidedBy,
    };
  }

  #call(limiter: StoreLimiter, key: string): Promise<RateLimiterRes> {
    const ms = this.#p.timeoutMs;
    if (ms <= 0) return limiter.consume(key);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreTimeoutError(ms)), ms);
      // A late answer after the timer fired is dropped; handling it here also keeps a late
      // rejection from surfacing as an unhandled one.
      limiter.consume(key).then(
        (res) => {
          clearTimeout(timer);
          resolve(res);
        },
        (err) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }
}

const NO_HEADERS: RateLimitHeaders = Object.freeze({});

/** Stands for the store's error while the breaker skips it: the real one was logged already. */
const STORE_SKIPPED = new Error('rate limit store skipped after repeated failures');

/**
 * What a consume rejection means. rate-limiter-flexible rejects with a RateLimiterRes
 * when the key is over its limit, and with an Error when the store failed: anything that
 * is not an Error and carries `msBeforeNext` is a "limited", everything else a failure.
 */
function asOutcome(rejection: unknown): RateLimiterRes | Error {
  if (rejection instanceof Error) return rejection;
  if (
    typeof rejection === 'object' &&
    rejection !== null &&
    typeof (rejection as RateLimiterRes).msBeforeNext === 'number'
  ) {
    return rejection as RateLimiterRes;
  }
  return new Error(`rate limit store rejected with ${String(rejection)}`);
}
