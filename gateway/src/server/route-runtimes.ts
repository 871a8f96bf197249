import { InternalError, type SwitchyardError } from '@switchyard/broker';
import type { SchemaRegistry } from '@switchyard/sdk';
import type { Logger } from 'pino';
import type { AuthGuard } from '../auth/auth-guard.js';
import type { RouteAuth, RouteAuthConfig } from '../auth/route-auth.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { parseRateLimitPolicy, type RateLimitKeyKind } from '../ratelimit/policy.js';
import type { RateLimiter } from '../ratelimit/rate-limiter.js';
import type { CompiledRoute } from '../routing/route-compiler.js';
import type { RouteTable } from '../routing/route-table.js';

/**
 * What the request pipeline needs of a route beyond the route itself, prepared once per
 * route change and never per request: the compiled auth policy, the effective limits,
 * and whether the body must be read. A route whose auth or rate limit cannot be prepared
 * is kept as `broken`: its requests get 500 and the reason is logged once; every other
 * route keeps working.
 */
export interface RouteRuntime {
  readonly route: CompiledRoute;
  readonly auth: RouteAuth | undefined;
  /** Auth mode `off`: the guard would only strip client-sent identity headers. */
  readonly authOff: boolean;
  /** Set when the route cannot be served (its requests get this error). */
  readonly broken: SwitchyardError | undefined;
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
  /** What the route's rate limit counts per; undefined when it has none. */
  readonly limitKey: RateLimitKeyKind | undefined;
  readonly rpc: boolean;
  /** An rpc route with `stream: websocket`: upgrades only (426 for a plain request). */
  readonly websocket: boolean;
  /** WebSocket routes: the largest message, bytes (the route's `maxBodyBytes`, else `wsMaxMessageBytes`). */
  readonly maxMessageBytes: number;
  /**
   * The route's own `timeoutMs`, undefined when it has none: a WebSocket stream is bounded
   * only by a deadline the route asks for (the gateway default suits requests, not sessions).
   */
  readonly streamTimeoutMs: number | undefined;
  /** `$id` of the schema the body must satisfy. */
  readonly requestSchema: string | undefined;
  /** The body must be read whole before the target is called (RPC bridge, schema validation). */
  readonly readsBody: boolean;
}

export interface RouteRuntimeDeps {
  guard: AuthGuard;
  defaultAuth: RouteAuthConfig;
  rateLimiter: RateLimiter;
  metrics: GatewayMetrics;
  schemas: SchemaRegistry;
  logger: Logger;
  maxBodyBytes: number;
  timeoutMs: number;
  wsMaxMessageBytes: number;
}

export class RouteRuntimes {
  readonly #deps: RouteRuntimeDeps;
  /** Keyed by the compiled route object: the store keeps an unchanged route's object across swaps. */
  #byRoute = new Map<CompiledRoute, RouteRuntime>();

  constructor(deps: RouteRuntimeDeps) {
    this.#deps = deps;
  }

  /** The runtime of a route of the current table (prepared on demand for a table not seen yet). */
  get(route: CompiledRoute): RouteRuntime {
    return this.#byRoute.get(route) ?? this.#prepare(route);
  }

  /** Prepare every route of a new table, then install limits and metric labels for it. */
  update(table: RouteTable): void {
    const next = new Map<CompiledRoute, RouteRuntime>();
    for (const route of table.routes) next.set(route, this.#byRoute.get(route) ?? this.#prepare(route));
    const d = this.#deps;
    d.metrics.setRoutes(table.routes.map((r) => r.id));
    d.rateLimiter.setRoutes([...next.values()].filter((rt) => rt.broken === undefined).map((rt) => rt.route));
    this.#byRoute = next;
  }

  #prepare(route: CompiledRoute): RouteRuntime {
    const d = this.#deps;
    let auth: RouteAuth | undefined;
    let broken: SwitchyardError | undefined;
    try {
      auth = d.guard.compileRoute(
        (route.auth as RouteAuthConfig | undefined) ?? d.defaultAuth,
        `routes.${route.id}.auth`,
        route.id,
      );
      if (route.rateLimit !== undefined) parseRateLimitPolicy(route.rateLimit, `routes.${route.id}.rateLimit`);
    } catch (err) {
      d.logger.error(
        { route: route.id, err: (err as Error).message },
        'gateway: route cannot be served (its requests get 500 until it is fixed)',
      );
      broken = new InternalError('this route is misconfigured', { details: { route: route.id } });
    }
    const schema = route.requestSchema;
    if (schema !== undefined && !d.schemas.has(schema)) {
      d.logger.warn(
        { route: route.id, schema },
        'gateway: the request schema of a route is not loaded; its requests get 503 until it is',
      );
    }
    const rpc = route.target.type === 'rpc';
    const websocket = route.target.type === 'rpc' && route.target.stream === 'websocket';
    return Object.freeze({
      route,
      auth,
      authOff: auth?.mode === 'off',
      broken,
      maxBodyBytes: route.maxBodyBytes ?? d.maxBodyBytes,
      timeoutMs: route.timeoutMs ?? d.timeoutMs,
      limitKey: route.rateLimit?.key,
      rpc,
      websocket,
      maxMessageBytes: route.maxBodyBytes ?? d.wsMaxMessageBytes,
      streamTimeoutMs: route.timeoutMs,
      requestSchema: schema,
      readsBody: rpc || schema !== undefined,
    });
  }
}
