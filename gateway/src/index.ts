export * from './auth/index.js';
// Server: the HTTP edge (createGateway), its options, endpoints and edge errors
export type { AuthSettingSource } from './config/auth-settings.js';
export type { Env } from './config/gateway-env.js';
export { GATEWAY_ENV } from './config/gateway-env.js';
export type {
  GatewayOptions,
  GatewayRateLimitOptions,
  GatewayUpstreamOptions,
  ResolvedGatewayOptions,
} from './config/gateway-options.js';
export { GATEWAY_DEFAULTS, resolveGatewayOptions } from './config/gateway-options.js';
export type { GatewayTlsOptions, ResolvedTls } from './config/tls-options.js';
// HTTP errors: the one place codes become statuses
export type { HttpErrorBody, HttpErrorResponse } from './http/error-response.js';
export { errorResponse, writeErrorResponse } from './http/error-response.js';
export { HTTP_STATUS_BY_CODE, httpStatusOf } from './http/error-status.js';
export { WS_CLOSE, WS_CLOSE_CODES, wsCloseCodeOf } from './http/ws-close-codes.js';
// Metrics
export type { GatewayMetricsOptions } from './metrics/gateway-metrics.js';
export { DEFAULT_DURATION_BUCKETS, GatewayMetrics } from './metrics/gateway-metrics.js';
export type { RejectReason, UpstreamErrorReason } from './metrics/labels.js';
export { REJECT_REASONS, UNMATCHED_ROUTE, UPSTREAM_ERROR_REASONS } from './metrics/labels.js';
export { RouteMetrics } from './metrics/route-metrics.js';
export {
  buildOpenApi,
  declaredMethod,
  type OpenApiDocument,
  type OpenApiRoute,
  type OpenApiSources,
  pathTemplate,
} from './openapi/openapi-document.js';
// Rate limiting
export type { TrustProxy } from './ratelimit/client-ip.js';
export { ClientIpResolver, UNKNOWN_CLIENT_IP } from './ratelimit/client-ip.js';
export type { ClusterRateLimitStoreOptions } from './ratelimit/cluster-store.js';
export { ClusterRateLimitStore, setupClusterRateLimitMaster } from './ratelimit/cluster-store.js';
export type { RateLimitLogger } from './ratelimit/failure-log.js';
export type { RateLimitHeaders } from './ratelimit/headers.js';
export { MemoryRateLimitStore } from './ratelimit/memory-store.js';
export type { RateLimitConfig, RateLimitKeyKind, RateLimitPolicy, StoreFailureMode } from './ratelimit/policy.js';
export { parseRateLimitPolicy, STORE_FAILURE_MODES } from './ratelimit/policy.js';
export type { RateLimitIdentity } from './ratelimit/rate-limit-key.js';
export { DEFAULT_IPV6_PREFIX_LENGTH, rateLimitKey } from './ratelimit/rate-limit-key.js';
export type { RateLimitedRoute, RateLimiterOptions } from './ratelimit/rate-limiter.js';
export {
  DEFAULT_STORE_FAILURE_THRESHOLD,
  DEFAULT_STORE_RETRY_AFTER_MS,
  DEFAULT_STORE_TIMEOUT_MS,
  RateLimiter,
} from './ratelimit/rate-limiter.js';
export type { RedisRateLimitStoreOptions, RedisTlsOptions } from './ratelimit/redis-store.js';
export { DEFAULT_REDIS_KEY_PREFIX, RedisRateLimitStore } from './ratelimit/redis-store.js';
export type { RateLimitDecider, RateLimitMetrics, RateLimitResult } from './ratelimit/route-limiter.js';
export { RouteRateLimiter } from './ratelimit/route-limiter.js';
export type { LimiterSpec, RateLimitStore, StoreLimiter } from './ratelimit/store.js';
export { REDIS_URL_ENV, rateLimitStoreFromEnv } from './ratelimit/store-from-env.js';
export type { EtcdRouteSourceOptions } from './routing/etcd-route-source.js';
export { ETCD_ROUTE_SOURCE_DEFAULTS, EtcdRouteSource } from './routing/etcd-route-source.js';
// Routing: route definitions, validation, the route table and its sources
export type { FileRouteSourceOptions } from './routing/file-route-source.js';
export { FILE_ROUTE_SOURCE_DEFAULTS, FileRouteSource, parseRoutesFile } from './routing/file-route-source.js';
export type { HostSpec } from './routing/host-pattern.js';
export { normalizeHost } from './routing/host-pattern.js';
export type { RoutingLogger } from './routing/logger.js';
export { MemoryRouteSource } from './routing/memory-route-source.js';
export type {
  NormalizedTarget,
  NormalizeResult,
  PathRejectionReason,
  RejectedTarget,
} from './routing/normalize-path.js';
export { DEFAULT_MAX_PATH_LENGTH, normalizePath, pathRejectedError } from './routing/normalize-path.js';
export type { RoutePathKind, RoutePathPattern, RoutePathSegment } from './routing/path-pattern.js';
export type {
  CompiledRoute,
  ResolvedHttpTarget,
  ResolvedTarget,
  RouteCompileResult,
} from './routing/route-compiler.js';
export { compileRoute } from './routing/route-compiler.js';
export { DEFAULT_ROUTES_NAMESPACE, routeKey, routesPrefix } from './routing/route-keys.js';
export type { CheckRouteOptions, RouteCheck } from './routing/route-schema.js';
export { checkRoute, parseRoute, ROUTE_SCHEMA_FILE, ROUTE_SCHEMA_ID, routeSchema } from './routing/route-schema.js';
export type { RouteEntry, RouteSnapshot, RouteSource } from './routing/route-source.js';
export type { RouteRejection, RouteStoreEvent, RouteStoreListener, RouteStoreOptions } from './routing/route-store.js';
export { RouteStore } from './routing/route-store.js';
export type { MethodNotAllowed, RouteLookup, RouteMatch } from './routing/route-table.js';
export { RouteTable } from './routing/route-table.js';
export type {
  AuthRuleDefinition,
  BalancerName,
  HttpMethod,
  HttpTarget,
  RouteAuthDefinition,
  RouteAuthMode,
  RouteDefinition,
  RouteMatchSpec,
  RouteRateLimitDefinition,
  RouteRateLimitKey,
  RouteRetriesDefinition,
  RouteTarget,
  RpcTarget,
} from './routing/route-types.js';
export { BALANCERS, DEFAULT_BALANCER, DEFAULT_ROUTE_PRIORITY, HTTP_METHODS } from './routing/route-types.js';
export type { UpstreamPlan } from './routing/upstream-path.js';
export type { EdgeReason } from './server/edge-errors.js';
export { edgeErrorResponse, writeEdgeError } from './server/edge-errors.js';
export type { Gateway, GatewayAddress } from './server/gateway.js';
export { createGateway } from './server/gateway.js';
export type { MetricsSource } from './server/ops-app.js';
export { HEALTH_PATH, READY_PATH, RESERVED_PREFIX } from './server/ops-app.js';
export type { GatewayPhase, ReadinessCheck, ReadinessReport } from './server/readiness.js';
export { REQUEST_ID_HEADER } from './server/request-id.js';
// Upstream: balancing, proxying, retries, health and circuit breaking towards service instances
export * from './upstream/index.js';
