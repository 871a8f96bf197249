// Public API of the gateway's upstream layer, re-exported by gateway/src/index.ts.
export type { Balancer, PickContext } from './balancer.js';
export { createBalancer } from './balancers.js';
export { type Admission, CircuitBreaker } from './circuit-breaker.js';
export { ConsistentHashBalancer, DEFAULT_VIRTUAL_NODES } from './consistent-hash.js';
export { setForwardedHeaders } from './forwarded-headers.js';
export { responseHeaderList, withoutHopHeaders } from './hop-by-hop.js';
export type { ForwardRequest } from './http-exchange.js';
export { LeastOutstandingBalancer } from './least-outstanding.js';
export { OutlierDetector, type OutlierEvents } from './outlier-detector.js';
export { LATENCY_TIE_RATIO, P2cLatencyBalancer } from './p2c-latency.js';
export {
  type ResolvedCircuitOptions,
  type ResolvedHealthOptions,
  resolvePoolOptions,
  UPSTREAM_POOL_DEFAULTS,
  type UpstreamAgentOptions,
  type UpstreamCircuitOptions,
  type UpstreamHealthOptions,
  type UpstreamLogger,
  type UpstreamPoolOptions,
  type UpstreamRegistryView,
  type UpstreamTlsOptions,
} from './pool-options.js';
export { RoundRobinBalancer } from './round-robin.js';
export { hash32 } from './string-hash.js';
export { type ProxyTarget, proxyTargetOf, UpstreamInstance, type UpstreamInstanceStats } from './upstream-instance.js';
export { UpstreamPool } from './upstream-pool.js';
export type { UpgradeRequest } from './websocket-upgrade.js';
