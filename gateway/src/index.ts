export {};

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
export type { RedisRateLimitStoreOptions } from './ratelimit/redis-store.js';
export { DEFAULT_REDIS_KEY_PREFIX, RedisRateLimitStore } from './ratelimit/redis-store.js';
export type { RateLimitDecider, RateLimitMetrics, RateLimitResult } from './ratelimit/route-limiter.js';
export { RouteRateLimiter } from './ratelimit/route-limiter.js';
export type { LimiterSpec, RateLimitStore, StoreLimiter } from './ratelimit/store.js';
export { REDIS_URL_ENV, rateLimitStoreFromEnv } from './ratelimit/store-from-env.js';

// HTTP errors: the one place codes become statuses
export type { HttpErrorBody, HttpErrorResponse } from './http/error-response.js';
export { errorResponse, writeErrorResponse } from './http/error-response.js';
export { HTTP_STATUS_BY_CODE, httpStatusOf } from './http/error-status.js';

// Metrics
export type { GatewayMetricsOptions } from './metrics/gateway-metrics.js';
export { DEFAULT_DURATION_BUCKETS, GatewayMetrics } from './metrics/gateway-metrics.js';
export type { RejectReason, UpstreamErrorReason } from './metrics/labels.js';
export { REJECT_REASONS, UNMATCHED_ROUTE, UPSTREAM_ERROR_REASONS } from './metrics/labels.js';
export { RouteMetrics } from './metrics/route-metrics.js';
export * from './auth/index.js';
