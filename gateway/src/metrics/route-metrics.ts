import type { Counter, Gauge, Histogram } from 'prom-client';
import type { StoreFailureMode } from '../ratelimit/policy.js';
import {
  CIRCUIT_STATE_VALUES,
  type CircuitState,
  methodLabel,
  oneOf,
  REJECT_REASONS,
  type RejectReason,
  statusLabel,
  UPSTREAM_ERROR_REASONS,
  type UpstreamErrorReason,
} from './labels.js';

/** The metric families a route's series belong to. */
export interface RouteFamilies {
  requests: Counter<'route' | 'method' | 'status'>;
  duration: Histogram<'route' | 'method'>;
  upstreamErrors: Counter<'route' | 'reason'>;
  rateLimited: Counter<'route'>;
  rateLimitStoreFailures: Counter<'route' | 'mode'>;
  rejected: Counter<'route' | 'reason'>;
  /** Requests on caching routes by result: hit, miss or bypass. */
  cache: Counter<'route' | 'result'>;
  circuitState: Gauge<'route' | 'target'>;
  /** WebSocket streams accepted (`stream: websocket` routes). */
  wsOpened: Counter<'route'>;
  /** WebSocket streams closed, by close code (a bounded set, see ws-close-codes.ts). */
  wsClosed: Counter<'route' | 'code'>;
}

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/**
 * The series of one route, bound once and reused for every request.
 *
 * Why: `metric.labels({...})` per call builds and validates a label object and binds
 * fresh closures (two for a histogram) for values that repeat, since a route sees a
 * handful of methods and statuses. Here the label values are normalised and bound once
 * per route, method and status, and the hot path is two small Map lookups. Measured
 * honestly, the gain with prom-client 15 is within noise (about 0.5 µs per request either
 * way, see the figures printed by tests/unit/metrics.test.ts): its children hash their
 * labels again inside every inc/observe. What really keeps metrics cheap is the bounded
 * label sets (labels.ts); the binding keeps per-request garbage down and the
 * normalisation in one place.
 */
export class RouteMetrics {
  readonly route: string;
  readonly #f: RouteFamilies;
  readonly #requests = new Map<string, Map<number, Inc>>();
  readonly #duration = new Map<string, Observe>();
  readonly #upstream = new Map<string, Inc>();
  readonly #rejected = new Map<string, Inc>();
  readonly #storeFailures = new Map<string, Inc>();
  readonly #cache = new Map<string, Inc>();
  readonly #circuitTargets = new Set<string>();
  readonly #wsClosed = new Map<string, Inc>();
  #rateLimited: Inc | undefined;
  #wsOpened: Inc | undefined;

  constructor(route: string, families: RouteFamilies) {
    this.route = route;
    this.#f = families;
  }

  /** One finished request: counted by method and status, timed by method. */
  request(method: string | undefined, status: number, seconds: number): void {
    const m = methodLabel(method);
    let byStatus = this.#requests.get(m);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.#requests.set(m, byStatus);
    }
    let counter = byStatus.get(status);
    if (counter === undefined) {
      counter = this.#f.requests.labels({ route: this.route, method: m, status: statusLabel(status) });
      byStatus.set(status, counter);
    }
    counter.inc();
    let histogram = this.#duration.get(m);
    if (histogram === undefined) {
      histogram = this.#f.duration.labels({ route: this.route, method: m });
      this.#duration.set(m, histogram);
    }
    histogram.observe(seconds);
  }

  upstreamError(reason: UpstreamErrorReason): void {
    this.#child(this.#upstream, this.#f.upstreamErrors, oneOf(UPSTREAM_ERROR_REASONS, reason)).inc();
  }

  rejected(reason: RejectReason): void {
    this.#child(this.#rejected, this.#f.rejected, oneOf(REJECT_REASONS, reason)).inc();
  }

  /** A request on a caching route: answered from the cache, sent on, or past the cache (credentials, no-store). */
  cacheResult(result: 'hit' | 'miss' | 'bypass'): void {
    let c = this.#cache.get(result);
    if (c === undefined) {
      c = this.#f.cache.labels({ route: this.route, result });
      this.#cache.set(result, c);
    }
    c.inc();
  }

  rateLimited(): void {
    this.#rateLimited ??= this.#f.rateLimited.labels({ route: this.route });
    this.#rateLimited.inc();
  }

  rateLimitStoreFailure(mode: StoreFailureMode): void {
    let c = this.#storeFailures.get(mode);
    if (c === undefined) {
      c = this.#f.rateLimitStoreFailures.labels({ route: this.route, mode });
      this.#storeFailures.set(mode, c);
    }
    c.inc();
  }

  wsOpened(): void {
    this.#wsOpened ??= this.#f.wsOpened.labels({ route: this.route });
    this.#wsOpened.inc();
  }

  /** `code`: already one of the bounded set (or `_other`). */
  wsClosed(code: string): void {
    let c = this.#wsClosed.get(code);
    if (c === undefined) {
      c = this.#f.wsClosed.labels({ route: this.route, code });
      this.#wsClosed.set(code, c);
    }
    c.inc();
  }

  /** Not on the hot path: set when a breaker changes state. */
  circuitState(target: string, state: CircuitState): void {
    this.#circuitTargets.add(target);
    this.#f.circuitState.set({ route: this.route, target }, CIRCUIT_STATE_VALUES[state]);
  }

  removeCircuit(target: string): void {
    if (this.#circuitTargets.delete(target)) this.#f.circuitState.remove({ route: this.route, target });
  }

  /** Removes every series of this route (the route is gone). */
  remove(): void {
    const route = this.route;
    for (const [method, byStatus] of this.#requests) {
      for (const status of byStatus.keys()) this.#f.requests.remove({ route, method, status: statusLabel(status) });
    }
    for (const method of this.#duration.keys()) this.#f.duration.remove({ route, method });
    for (const reason of this.#upstream.keys()) this.#f.upstreamErrors.remove({ route, reason });
    for (const reason of this.#rejected.keys()) this.#f.rejected.remove({ route, reason });
    for (const mode of this.#storeFailures.keys()) this.#f.rateLimitStoreFailures.remove({ route, mode });
    for (const result of this.#cache.keys()) this.#f.cache.remove({ route, result });
    if (this.#rateLimited) this.#f.rateLimited.remove({ route });
    if (this.#wsOpened) this.#f.wsOpened.remove({ route });
    for (const code of this.#wsClosed.keys()) this.#f.wsClosed.remove({ route, code });
    for (const target of this.#circuitTargets) this.#f.circuitState.remove({ route, target });
    this.#requests.clear();
    this.#duration.clear();
    this.#upstream.clear();
    this.#rejected.clear();
    this.#storeFailures.clear();
    this.#cache.clear();
    this.#circuitTargets.clear();
    this.#wsClosed.clear();
    this.#rateLimited = undefined;
    this.#wsOpened = undefined;
  }

  #child(cache: Map<string, Inc>, family: Counter<'route' | 'reason'>, reason: string): Inc {
    let c = cache.get(reason);
    if (c === undefined) {
      c = family.labels({ route: this.route, reason });
      cache.set(reason, c);
    }
    return c;
  }
}
