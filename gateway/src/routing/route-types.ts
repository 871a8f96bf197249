/**
 * The route definition: the JSON stored at `/<namespace>/routes/<id>` (or listed in a
 * routes file), described by schemas/switchyard/route.json ($id `switchyard:route`) and
 * docs/routes.md. These types mirror that schema; keep them in step.
 */

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const BALANCERS = ['round-robin', 'least-outstanding', 'p2c-latency', 'consistent-hash'] as const;
export type BalancerName = (typeof BALANCERS)[number];

export const DEFAULT_BALANCER: BalancerName = 'round-robin';
export const DEFAULT_ROUTE_PRIORITY = 0;

export interface RouteMatchSpec {
  /** Exact lower-case names or `*.suffix` wildcards. Absent: any host. */
  hosts?: string[];
  /** `/exact`, `/with/:params`, or `/prefix/*` (`/**` is the same). */
  path: string;
  /** Absent: every method. GET also admits HEAD. */
  methods?: HttpMethod[];
}

/** Proxy to instances of a registered service. */
export interface HttpTarget {
  type: 'http';
  service: string;
  /** Default `round-robin`. */
  balancer?: BalancerName;
  /** Lower-case request header whose value is hashed; required by (and only for) `consistent-hash`. */
  hashHeader?: string;
  /** A literal leading part of `match.path` removed before proxying. Excludes `rewrite`. */
  stripPrefix?: string;
  /** Upstream path template using the path's `:params` and, last, its `*`. Excludes `stripPrefix`. */
  rewrite?: string;
}

export const RPC_STREAMS = ['websocket', 'sse'] as const;
/** How an rpc route streams (docs/routes.md `stream`). */
export type RpcStream = (typeof RPC_STREAMS)[number];

/** Bridge the request to an RPC method over the broker. */
export interface RpcTarget {
  type: 'rpc';
  service: string;
  method: string;
  /**
   * `websocket`: the route takes only WebSocket upgrades, bridged to a bidi method (one
   * JSON message per item, docs/gateway.md "WebSocket streams"); a plain request gets 426.
   * `sse`: a server-streaming method answers as SSE whatever `Accept` says. Absent: unary,
   * or a server stream framed by `Accept` (NDJSON by default).
   */
  stream?: RpcStream;
}

export type RouteTarget = HttpTarget | RpcTarget;

export type RouteAuthMode = 'required' | 'optional' | 'off';

export interface AuthRuleDefinition {
  /** Path pattern the rule covers (interpreted by the auth layer). */
  resource: string;
  /** Absent: every method. */
  methods?: HttpMethod[];
  /** Scope(s) the caller must have for the rule to apply (all of them when several). */
  scope?: string | string[];
  effect: 'allow' | 'deny';
  /** Higher first. Default 0. */
  priority?: number;
}

export interface RouteAuthDefinition {
  mode: RouteAuthMode;
  /** Scopes every request on the route needs. */
  scopes?: string[];
  rules?: AuthRuleDefinition[];
}

export type RouteRateLimitKey = 'subject' | 'apiKey' | 'ip';

export interface RouteRateLimitDefinition {
  points: number;
  durationSeconds: number;
  key: RouteRateLimitKey;
  /** Block a key that exceeded the limit for this long. */
  blockSeconds?: number;
}

export interface RouteRetriesDefinition {
  /** Extra attempts after the first one. */
  attempts: number;
}

export interface RouteDefinition {
  id: string;
  description?: string;
  /** Higher wins. Default 0. */
  priority?: number;
  match: RouteMatchSpec;
  target: RouteTarget;
  /** Absent: the gateway's default auth policy. */
  auth?: RouteAuthDefinition;
  /** Absent: the gateway's default (or no) rate limit. */
  rateLimit?: RouteRateLimitDefinition;
  /** Schema `$id` the request body must satisfy. */
  requestSchema?: string;
  timeoutMs?: number;
  retries?: RouteRetriesDefinition;
  maxBodyBytes?: number;
  /** GET/HEAD response cache (http targets). */
  cache?: RouteCacheDefinition;
}

export interface RouteCacheDefinition {
  /** Freshness when the upstream sends no max-age / s-maxage. */
  ttlSeconds: number;
  /** Request headers (lower-case) that are part of the key. */
  vary?: string[];
  /** Cache requests carrying credentials too (per principal unless the response is `public`). Default false. */
  authenticated?: boolean;
  /** Larger responses are relayed, not stored. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** What compiled routes hand out: frozen at runtime, read-only in the types. */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
