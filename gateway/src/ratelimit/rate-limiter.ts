import type { IncomingMessage } from 'node:http';
import { ClosedError, InvalidOptionsError } from '@switchyard/broker';
import { ClientIpResolver, type TrustProxy } from './client-ip.js';
import { type RateLimitLogger, ThrottledFailureLog } from './failure-log.js';
import { MemoryRateLimitStore, memoryLimiter } from './memory-store.js';
import {
  parseRateLimitPolicy,
  policyFingerprint,
  type RateLimitConfig,
  STORE_FAILURE_MODES,
  type StoreFailureMode,
} from './policy.js';
import { DEFAULT_IPV6_PREFIX_LENGTH, type RateLimitIdentity, rateLimitKey } from './rate-limit-key.js';
import { type RateLimitMetrics, type RateLimitResult, RouteRateLimiter } from './route-limiter.js';
import type { RateLimitStore } from './store.js';
import { StoreBreaker } from './store-breaker.js';

export interface RateLimiterOptions {
  /** Where counters live. Default: a MemoryRateLimitStore (this process only). */
  store?: RateLimitStore;
  /**
   * When the store fails or times out: `insurance` (default) counts in this process
   * instead, `allow` lets the request through, `deny` refuses it with 503 UNAVAILABLE.
   */
  onStoreFailure?: StoreFailureMode;
  /** Bound on one call to a remote store, ms. Default 300. Ignored for in-process stores. */
  storeTimeoutMs?: number;
  /** Which proxies may set the client address. Default false (none). See ClientIpResolver. */
  trustProxy?: TrustProxy;
  /** IP-keyed limits count IPv6 clients per prefix of this length. Default 64; 128 counts per address. */
  ipv6PrefixLength?: number;
  /**
   * After this many consecutive store failures, stop calling the store for
   * `storeRetryAfterMs` and apply the failure mode at once; then probe it with one check.
   * Default 5. Remote stores only.
   */
  storeFailureThreshold?: number;
  /** How long a failing store is left alone before it is probed again, ms. Default 1000. */
  storeRetryAfterMs?: number;
  metrics?: RateLimitMetrics;
  logger?: RateLimitLogger;
}

export const DEFAULT_STORE_TIMEOUT_MS = 300;
export const DEFAULT_STORE_FAILURE_THRESHOLD = 5;
export const DEFAULT_STORE_RETRY_AFTER_MS = 1000;

/** The part of a route the rate limiter reads. */
export interface RateLimitedRoute {
  readonly id: string;
  readonly rateLimit?: Readonly<RateLimitConfig> | undefined;
}

const UNLIMITED: RateLimitResult = Object.freeze({ allowed: true, headers: Object.freeze({}), decidedBy: 'none' });

/**
 * Per-route rate limits for the gateway. Plug it into a request pipeline as:
 *
 * ```ts
 * const r = await rateLimiter.check(route.id, { ip: rateLimiter.clientIp.fromRequest(req), subject, apiKey });
 * for (const [name, value] of Object.entries(r.headers)) res.setHeader(name, value);
 * if (!r.allowed) return writeErrorResponse(res, r.error, requestId);
 * ```
 *
 * Limiters are built in `setRoutes()` (one per route and policy, reused while the policy
 * is unchanged so counters survive a route reload), never per request.
 */
export class RateLimiter {
  readonly clientIp: ClientIpResolver;
  readonly store: RateLimitStore;
  readonly onStoreFailure: StoreFailureMode;
  readonly #timeoutMs: number;
  readonly #ipv6PrefixLength: number;
  readonly #metrics: RateLimitMetrics | undefined;
  readonly #failureLog: ThrottledFailureLog;
  readonly #breaker: StoreBreaker | undefined;
  /**
   * Route id -> its limiter. Replaced wholesale by setRoutes so a check never sees half an
   * update; a route whose policy is unchanged keeps its limiter (and its counters).
   */
  #routes = new Map<string, RouteRateLimiter>();
  #started = false;
  #closed = false;

  constructor(options: RateLimiterOptions = {}) {
    this.store = options.store ?? new MemoryRateLimitStore();
    this.onStoreFailure = options.onStoreFailure ?? 'insurance';
    if (!STORE_FAILURE_MODES.includes(this.onStoreFailure)) {
      throw new InvalidOptionsError(
        `onStoreFailure: must be one of ${STORE_FAILURE_MODES.join(', ')}, got ${JSON.stringify(options.onStoreFailure)}`,
      );
    }
    const t = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) {
      throw new InvalidOptionsError(
        `storeTimeoutMs: must be a positive number of milliseconds, got ${JSON.stringify(t)}`,
      );
    }
    this.#timeoutMs = this.store.remote ? t : 0;
    const threshold = options.storeFailureThreshold ?? DEFAULT_STORE_FAILURE_THRESHOLD;
    if (!Number.isInteger(threshold) || threshold < 1) {
      throw new InvalidOptionsError(`storeFailureThreshold: must be an integer >= 1, got ${JSON.stringify(threshold)}`);
    }
    const retryAfter = options.storeRetryAfterMs ?? DEFAULT_STORE_RETRY_AFTER_MS;
    if (typeof retryAfter !== 'number' || !Number.isFinite(retryAfter) || retryAfter < 0) {
      throw new InvalidOptionsError(
        `storeRetryAfterMs: must be a number of milliseconds >= 0, got ${JSON.stringify(retryAfter)}`,
      );
    }
    this.#breaker = this.store.remote ? new StoreBreaker(threshold, retryAfter) : undefined;
    const p = options.ipv6PrefixLength ?? DEFAULT_IPV6_PREFIX_LENGTH;
    if (!Number.isInteger(p) || p < 1 || p > 128) {
      throw new InvalidOptionsError(`ipv6PrefixLength: must be an integer from 1 to 128, got ${JSON.stringify(p)}`);
    }
    this.#ipv6PrefixLength = p;
    this.clientIp = new ClientIpResolver(options.trustProxy ?? false);
    this.#metrics = options.metrics;
    this.#failureLog = new ThrottledFailureLog(options.logger);
  }

  /**
   * Installs the limits of the current routes. Validates every route first: on an
   * invalid one it throws InvalidOptionsError naming it and keeps the previous routes.
   */
  setRoutes(routes: Iterable<RateLimitedRoute>): void {
    const seen = new Set<string>();
    const next = new Map<string, RouteRateLimiter>();
    for (const route of routes) {
      if (typeof route.id !== 'string' || route.id === '') {
        throw new InvalidOptionsError('routes: every route needs a non-empty string id');
      }
      if (seen.has(route.id))
        throw new InvalidOptionsError(`routes: route id ${JSON.stringify(route.id)} is used twice`);
      seen.add(route.id);
      if (route.rateLimit === undefined) continue;
      const policy = parseRateLimitPolicy(route.rateLimit, `routes[${JSON.stringify(route.id)}].rateLimit`);
      const previous = this.#routes.get(route.id);
      const unchanged = previous !== undefined && policyFingerprint(previous.policy) === policyFingerprint(policy);
      next.set(route.id, unchanged ? previous : this.#build(route.id, policy));
    }
    this.#routes = next;
  }

  /** The limiter of a route, or undefined when the route has no limit (or is unknown). */
  forRoute(routeId: string): RouteRateLimiter | undefined {
    return this.#routes.get(routeId);
  }

  /** Counts a request against its route's limit. Routes without a limit always pass. */
  check(routeId: string, identity: RateLimitIdentity): Promise<RateLimitResult> {
    if (this.#closed) return Promise.reject(new ClosedError('rate limiter is closed'));
    const limiter = this.#routes.get(routeId);
    if (limiter === undefined) return Promise.resolve(UNLIMITED);
    return limiter.consume(rateLimitKey(limiter.policy.key, identity, this.#ipv6PrefixLength));
  }

  /** `check` for a `node:http` request: the client IP is read through the trusted-proxy setting. */
  checkRequest(
    routeId: string,
    req: IncomingMessage,
    credentials: { subject?: string | undefined; apiKey?: string | undefined } = {},
  ): Promise<RateLimitResult> {
    return this.check(routeId, { ip: this.clientIp.fromRequest(req), ...credentials });
  }

  async start(): Promise<void> {
    if (this.#started || this.#closed) return;
    this.#started = true;
    await this.store.start();
  }

  /** Closes the store (whether or not this limiter created it). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#routes = new Map();
    await this.store.close();
  }

  #build(routeId: string, policy: RouteRateLimiter['policy']): RouteRateLimiter {
    const spec = {
      name: `${routeId}:${policyFingerprint(policy)}`,
      points: policy.points,
      durationSeconds: policy.durationSeconds,
      blockSeconds: policy.blockSeconds,
    };
    return new RouteRateLimiter({
      routeId,
      policy,
      primary: this.store.createLimiter(spec),
      timeoutMs: this.#timeoutMs,
      onStoreFailure: this.onStoreFailure,
      insurance: this.onStoreFailure === 'insurance' ? memoryLimiter(spec) : undefined,
      metrics: this.#metrics,
      failureLog: this.#failureLog,
      breaker: this.#breaker,
    });
  }
}
