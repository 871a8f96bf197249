import { InternalError, type Violation } from '@switchyard/broker';
import { type HostSpec, parseHostPattern } from './host-pattern.js';
import { parseRoutePathPattern, type RoutePathPattern } from './path-pattern.js';
import { type CheckRouteOptions, checkRoute } from './route-schema.js';
import {
  type BalancerName,
  DEFAULT_BALANCER,
  DEFAULT_ROUTE_PRIORITY,
  type DeepReadonly,
  type HttpTarget,
  type RouteAuthDefinition,
  type RouteCacheDefinition,
  type RouteDefinition,
  type RouteRateLimitDefinition,
  type RouteRetriesDefinition,
  type RpcTarget,
} from './route-types.js';
import { parseUpstreamPlan, type UpstreamPlan } from './upstream-path.js';

/** An http target with its balancer default filled in. */
export type ResolvedHttpTarget = DeepReadonly<HttpTarget> & { readonly balancer: BalancerName };
export type ResolvedTarget = ResolvedHttpTarget | DeepReadonly<RpcTarget>;

/**
 * A validated route, ready for the route table, and what the gateway's later stages
 * (auth, rate limit, validation, proxy/RPC bridge) read per request. Deep-frozen: one
 * object is shared by every request that matches it.
 */
export interface CompiledRoute {
  readonly id: string;
  /** Default 0. */
  readonly priority: number;
  /** The route exactly as written (deep copy). */
  readonly definition: DeepReadonly<RouteDefinition>;
  readonly pattern: RoutePathPattern;
  /** undefined: any host. */
  readonly hosts: readonly HostSpec[] | undefined;
  /** The declared methods (undefined: all). */
  readonly methods: readonly string[] | undefined;
  /** The methods admitted: the declared ones, plus HEAD when GET is declared. undefined: all. */
  readonly allowedMethods: ReadonlySet<string> | undefined;
  readonly target: ResolvedTarget;
  /** How the upstream path is built (http targets; `keep` for rpc). */
  readonly upstream: UpstreamPlan;
  readonly auth: DeepReadonly<RouteAuthDefinition> | undefined;
  readonly rateLimit: DeepReadonly<RouteRateLimitDefinition> | undefined;
  readonly requestSchema: string | undefined;
  readonly timeoutMs: number | undefined;
  readonly retries: DeepReadonly<RouteRetriesDefinition> | undefined;
  readonly maxBodyBytes: number | undefined;
  readonly cache: DeepReadonly<RouteCacheDefinition> | undefined;
}

export type RouteCompileResult = { ok: true; route: CompiledRoute } | { ok: false; violations: Violation[] };

/**
 * Validate (schema + semantic checks) and compile one route. Never throws for a bad
 * route: the violations say what is wrong. Done once per route change, never per request.
 */
export function compileRoute(value: unknown, options: CheckRouteOptions = {}): RouteCompileResult {
  const check = checkRoute(value, options);
  if (!check.ok) return check;
  const def = deepFreeze(structuredClone(check.route)) as DeepReadonly<RouteDefinition>;
  // Both parse again what checkRoute already accepted, so they cannot fail here.
  const parsed = parseRoutePathPattern(def.match.path);
  if (!parsed.ok) throw new InternalError(`route ${def.id}: path accepted, then rejected: ${parsed.message}`);
  const pattern = parsed.pattern;
  let target: ResolvedTarget;
  let upstream: UpstreamPlan = { kind: 'keep' };
  if (def.target.type === 'http') {
    target = { ...def.target, balancer: def.target.balancer ?? DEFAULT_BALANCER };
    const plan = parseUpstreamPlan(pattern, def.target);
    if (!plan.ok) throw new InternalError(`route ${def.id}: target accepted, then rejected: ${plan.message}`);
    upstream = plan.plan;
  } else {
    target = def.target;
  }
  const methods = def.match.methods;
  let allowedMethods: Set<string> | undefined;
  if (methods) {
    allowedMethods = new Set(methods);
    if (allowedMethods.has('GET')) allowedMethods.add('HEAD');
  }
  const route: CompiledRoute = {
    id: def.id,
    priority: def.priority ?? DEFAULT_ROUTE_PRIORITY,
    definition: def,
    pattern,
    hosts: def.match.hosts ? Object.freeze(def.match.hosts.map((h) => Object.freeze(parseHostPattern(h)))) : undefined,
    methods,
    allowedMethods,
    target: Object.freeze(target),
    upstream,
    auth: def.auth,
    rateLimit: def.rateLimit,
    requestSchema: def.requestSchema,
    timeoutMs: def.timeoutMs,
    retries: def.retries,
    maxBodyBytes: def.maxBodyBytes,
    cache: def.cache,
  };
  return { ok: true, route: Object.freeze(route) };
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    for (const child of Object.values(o)) deepFreeze(child);
    Object.freeze(o);
  }
  return o;
}
