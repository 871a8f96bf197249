import { InvalidOptionsError } from '@switchyard/broker';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { WS_CLOSE_CODES } from '../http/ws-close-codes.js';
import type { StoreFailureMode } from '../ratelimit/policy.js';
import type { RateLimitMetrics } from '../ratelimit/route-limiter.js';
import { type CircuitState, OTHER, type RejectReason, UNMATCHED_ROUTE, type UpstreamErrorReason } from './labels.js';
import { type RouteFamilies, RouteMetrics } from './route-metrics.js';

/** Request duration buckets, seconds: 1 ms to 10 s, about three per decade. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

export interface GatewayMetricsOptions {
  /** Also collect prom-client's default process metrics (CPU, memory, event loop, GC). Default false. */
  processMetrics?: boolean;
  /** Histogram buckets for request duration, seconds, ascending. Default DEFAULT_DURATION_BUCKETS. */
  durationBuckets?: readonly number[];
  /** Labels added to every series, e.g. `{ instance: 'gw-1' }`. Default none. */
  defaultLabels?: Record<string, string>;
}

/**
 * The gateway's Prometheus metrics, in a registry of its own (never prom-client's global
 * one: two gateways in one process, or a test, would otherwise share and clash).
 *
 * The `route` label only takes ids declared with `setRoutes()`; anything else is counted
 * as `_unmatched`, so clients cannot create series. Serve `render()` with `contentType`
 * on the admin `/metrics` endpoint.
 */
export class GatewayMetrics implements RateLimitMetrics {
  readonly registry: Registry;
  readonly #families: RouteFamilies;
  readonly #routesGauge: Gauge;
  readonly #instances: Gauge<'service'>;
  readonly #services = new Set<string>();
  #known = new Set<string>();
  readonly #byRoute = new Map<string, RouteMetrics>();
  readonly #unmatched: RouteMetrics;
  #closed = false;

  constructor(options: GatewayMetricsOptions = {}) {
    const buckets = options.durationBuckets ?? DEFAULT_DURATION_BUCKETS;
    if (
      !Array.isArray(buckets) ||
      buckets.length === 0 ||
      buckets.some((b, i) => typeof b !== 'number' || !(b > 0) || (i > 0 && b <= buckets[i - 1]!))
    ) {
      throw new InvalidOptionsError('durationBuckets: must be a non-empty ascending list of positive seconds');
    }
    this.registry = new Registry();
    if (options.defaultLabels) this.registry.setDefaultLabels(options.defaultLabels);
    const registers = [this.registry];
    this.#families = {
      requests: new Counter({
        name: 'switchyard_gateway_requests_total',
        help: 'Requests answered, by route, method and HTTP status.',
        labelNames: ['route', 'method', 'status'] as const,
        registers,
      }),
      duration: new Histogram({
        name: 'switchyard_gateway_request_duration_seconds',
        help: 'Time from request received to response finished, by route and method.',
        labelNames: ['route', 'method'] as const,
        buckets: [...buckets],
        registers,
      }),
      upstreamErrors: new Counter({
        name: 'switchyard_gateway_upstream_errors_total',
        help: 'Failed calls to upstreams, by route and reason.',
        labelNames: ['route', 'reason'] as const,
        registers,
      }),
      cache: new Counter({
        name: 'switchyard_gateway_cache_total',
        help: 'Requests on routes with a response cache, by route and result (hit, miss, bypass).',
        labelNames: ['route', 'result'] as const,
        registers,
      }),
      rateLimited: new Counter({
        name: 'switchyard_gateway_rate_limited_total',
        help: 'Requests refused with 429 by a rate limit, by route.',
        labelNames: ['route'] as const,
        registers,
      }),
      rateLimitStoreFailures: new Counter({
        name: 'switchyard_gateway_ratelimit_store_failures_total',
        help: 'Rate-limit checks the store (Redis, cluster primary) failed to answer, by route and the failure mode applied.',
        labelNames: ['route', 'mode'] as const,
        registers,
      }),
      rejected: new Counter({
        name: 'switchyard_gateway_rejected_total',
        help: 'Requests refused by the gateway itself (auth, validation, size, ...), by route and reason.',
        labelNames: ['route', 'reason'] as const,
        registers,
      }),
      wsOpened: new Counter({
        name: 'switchyard_gateway_websockets_opened_total',
        help: 'WebSocket streams accepted on stream: websocket routes, by route.',
        labelNames: ['route'] as const,
        registers,
      }),
      wsClosed: new Counter({
        name: 'switchyard_gateway_websockets_closed_total',
        help: 'WebSocket streams closed, by route and close code (docs/gateway.md, WebSocket streams).',
        labelNames: ['route', 'code'] as const,
        registers,
      }),
      circuitState: new Gauge({
        name: 'switchyard_gateway_circuit_state',
        help: 'Circuit breaker state per route and target: 0 closed, 1 half-open, 2 open.',
        labelNames: ['route', 'target'] as const,
        registers,
      }),
    };
    this.#routesGauge = new Gauge({
      name: 'switchyard_gateway_routes',
      help: 'Routes currently installed.',
      registers,
    });
    this.#instances = new Gauge({
      name: 'switchyard_gateway_instances',
      help: 'Live instances known per service.',
      labelNames: ['service'] as const,
      registers,
    });
    this.#unmatched = new RouteMetrics(UNMATCHED_ROUTE, this.#families);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** `Content-Type` of `render()`'s output (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Declares the current route ids: they become valid `route` label values and the
   * routes gauge is set. Series of routes no longer present are removed.
   */
  setRoutes(routeIds: Iterable<string>): void {
    const next = new Set(routeIds);
    next.delete(UNMATCHED_ROUTE);
    for (const [id, m] of this.#byRoute) {
      if (!next.has(id)) {
        m.remove();
        this.#byRoute.delete(id);
      }
    }
    this.#known = next;
    this.#routesGauge.set(next.size);
  }

  /**
   * The pre-bound series of a route; `_unmatched` for an undefined or undeclared id. Keep
   * the returned object with the route to skip even this lookup.
   */
  route(routeId: string | undefined): RouteMetrics {
    if (routeId === undefined) return this.#unmatched;
    let m = this.#byRoute.get(routeId);
    if (m === undefined) {
      if (!this.#known.has(routeId)) return this.#unmatched;
      m = new RouteMetrics(routeId, this.#families);
      this.#byRoute.set(routeId, m);
    }
    return m;
  }

  observeRequest(routeId: string | undefined, method: string | undefined, status: number, seconds: number): void {
    this.route(routeId).request(method, status, seconds);
  }

  upstreamError(routeId: string | undefined, reason: UpstreamErrorReason): void {
    this.route(routeId).upstreamError(reason);
  }

  rejected(routeId: string | undefined, reason: RejectReason): void {
    this.route(routeId).rejected(reason);
  }

  cacheResult(routeId: string, result: 'hit' | 'miss' | 'bypass'): void {
    this.route(routeId).cacheResult(result);
  }

  rateLimited(routeId: string): void {
    this.route(routeId).rateLimited();
  }

  rateLimitStoreFailure(routeId: string, mode: StoreFailureMode): void {
    this.route(routeId).rateLimitStoreFailure(mode);
  }

  wsOpened(routeId: string): void {
    this.route(routeId).wsOpened();
  }

  /** A close code outside the gateway's own set (a client's 3000-4999) is counted as `_other`. */
  wsClosed(routeId: string, code: number): void {
    this.route(routeId).wsClosed(WS_CLOSE_CODES.has(code) ? String(code) : OTHER);
  }

  setCircuitState(routeId: string, target: string, state: CircuitState): void {
    this.route(routeId).circuitState(target, state);
  }

  removeCircuit(routeId: string, target: string): void {
    this.route(routeId).removeCircuit(target);
  }

  setInstances(service: string, count: number): void {
    this.#services.add(service);
    this.#instances.set({ service }, count);
  }

  /** Drops a service's series (no route refers to it any more). */
  removeService(service: string): void {
    if (this.#services.delete(service)) this.#instances.remove({ service });
  }

  /** Idempotent. Clears the registry; process metrics stop being reported. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.registry.clear();
  }
}
