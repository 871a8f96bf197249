export * from '@switchyard/broker';
export {
  type AsyncApiDocument,
  type AsyncApiResult,
  type AsyncApiSources,
  buildAsyncApi,
} from './asyncapi/asyncapi-document.js';
export * from './auth/index.js';
export * from './cache/index.js';
export {
  DEFAULT_NAMESPACE,
  DEFAULT_SCHEMAS_DIR,
  type InfrastructureMode,
  type ParseConfigOptions,
  parseSwitchyardConfig,
  type SchemaSetting,
  SWITCHYARD_ENV,
  type SwitchyardConfig,
  type SwitchyardConfigOverrides,
} from './config/env-config.js';
export { createInfrastructure, type Infrastructure, type InfrastructureOptions } from './config/infrastructure.js';
export {
  AMQP_SERVERNAME_ENV,
  readAmqpTlsEnv,
  readEtcdTlsEnv,
  readPem,
  readTlsEnv,
  TLS_ENV,
  type TlsClientFiles,
  type TlsLink,
} from './config/tls-env.js';
export type { CallContext } from './context/call-context.js';
export type {
  EmitOptions,
  ParentContext,
  ServiceBidiCall,
  ServiceBidiOptions,
  ServiceCallOptions,
  ServiceClientStream,
  ServiceStreamOptions,
} from './context/context-host.js';
export type { EventContext } from './context/event-context.js';
export { HEADER } from './context/headers.js';
export {
  continueTrace,
  formatTraceparent,
  parseTraceparent,
  startTrace,
  type TraceContext,
} from './context/trace-context.js';
export * from './dynamic-config/index.js';
export * from './registry/index.js';
export { MethodBulkhead } from './resilience/bulkhead.js';
export {
  type CircuitBreakerOptions,
  CircuitBreakers,
  type CircuitStateName,
  countsAsFailure,
  DEFAULT_CIRCUIT_BREAKER_OPTIONS,
} from './resilience/circuit-breakers.js';
export { callDeadline } from './resilience/deadline.js';
export { MethodRateLimiter, type RateLimitOptions } from './resilience/rate-limit.js';
export { type RetryControl, retryAfterFailure, retryBackoff } from './resilience/retry.js';
export { DEFAULT_RETRY_OPTIONS, isSafeToRetry, type RetryOptions } from './resilience/retry-policy.js';
export * from './schemas/index.js';
export type {
  BidiMethodOptions,
  ClientStreamMethodOptions,
  MethodKind,
  ServiceBidiHandler,
  ServiceClientStreamHandler,
} from './service/bidi-options.js';
export { type CallTarget, parseCallTarget } from './service/call-target.js';
export { createService, Service, type ServiceState } from './service/service.js';
export { SERVICE_DURATION_BUCKETS, ServiceMetrics } from './service/service-metrics.js';
export {
  type CallDefaults,
  type MethodOptions,
  resolveServiceOptions,
  SERVICE_DEFAULTS,
  type ServiceEventHandler,
  type ServiceMethodHandler,
  type ServiceMethodOptions,
  type ServiceOptions,
  type SubscriptionOptions,
} from './service/service-options.js';
export { type Closeable, installShutdownHandlers, type ShutdownOptions } from './service/shutdown.js';
export type {
  ServerStreamMethodOptions,
  ServiceStreamHandler,
  StreamMethodOptions,
} from './service/stream-options.js';
export * from './store/index.js';
export * from './sync/index.js';
export { ATTR, messagingSystemOf, RPC_SYSTEM } from './telemetry/semconv.js';
export {
  endWith,
  failSpan,
  parentContextOf,
  remoteParent,
  SpanKind,
  startSpan,
  traceOfSpan,
  traceparentOf,
  tracingOn,
  withSpan,
} from './telemetry/spans.js';
export {
  startTracing,
  type Tracing,
  type TracingOptions,
  tracingResourceAttributes,
} from './telemetry/start-tracing.js';
export { type TracingSettings, tracingSettings } from './telemetry/tracing-settings.js';
