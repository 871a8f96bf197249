import type { Transport } from '@switchyard/broker';
import type { RegistryView } from '@switchyard/sdk';
import type { RouteStore } from '../routing/route-store.js';

/** One dependency's state in `/readyz`. */
export interface ReadinessCheck {
  readonly ready: boolean;
  readonly [detail: string]: unknown;
}

/** The body of `/readyz`: 200 when `ready`, else 503. */
export interface ReadinessReport {
  readonly ready: boolean;
  /**
   * A dependency is lost now (a check is not ready) and the gateway serves from what it
   * had: its last route table, its last instance list, RPC routes failing UNAVAILABLE.
   */
  readonly degraded?: boolean;
  readonly checks: {
    /** The route table reflects its source (etcd or the routes file) now. */
    readonly routes: ReadinessCheck;
    /** The registry view is synced with the registry (instances are current). */
    readonly registry: ReadinessCheck;
    /** The transport (RabbitMQ, or in memory) is connected: RPC routes can be bridged. */
    readonly transport: ReadinessCheck;
    /** The gateway is up and not shutting down. */
    readonly gateway: ReadinessCheck;
  };
}

export type GatewayPhase = 'starting' | 'running' | 'draining' | 'closed';

/**
 * Which dependencies have been current at least once since the gateway started. A
 * gateway never in sync has nothing to serve; one that was and lost etcd or RabbitMQ
 * serves what it had.
 */
export class ReadinessLatch {
  routes = false;
  registry = false;
  transport = false;
}

/**
 * What a load balancer should know: send traffic here or not.
 *
 * Not ready while starting (the route table, the instance list and the transport were
 * never current), while draining and once closed. A dependency lost *after* that — etcd or
 * RabbitMQ down — leaves the gateway ready but `degraded`, with the failing check named,
 * when `readyWhileDegraded` (the default): it still serves its last route table and
 * instance list, and etcd or RabbitMQ are shared by every gateway, so a strict check would
 * take all of them out of the balancer at once and turn a degraded edge into no edge
 * (`npm run chaos` showed /readyz 503 on the gateway for the whole etcd and broker outage
 * while proxied traffic flowed). `readyWhileDegraded: false` keeps the strict check, for
 * balancers that have a healthier gateway elsewhere to prefer.
 */
export function readiness(
  phase: GatewayPhase,
  store: RouteStore,
  routeSource: string,
  view: RegistryView,
  transport: Transport,
  latch: ReadinessLatch,
  readyWhileDegraded: boolean,
): ReadinessReport {
  const routes: ReadinessCheck = {
    ready: store.synced,
    source: routeSource,
    connected: store.connected,
    routes: store.table.size,
    rejected: store.rejected().length,
  };
  const stale = view.staleSince;
  const registry: ReadinessCheck = {
    ready: view.synced,
    ...(stale ? { staleSince: stale.toISOString() } : {}),
  };
  const transportCheck: ReadinessCheck = {
    ready: transport.state === 'connected',
    kind: transport.kind,
    state: transport.state,
  };
  const gateway: ReadinessCheck = { ready: phase === 'running', phase };
  if (routes.ready) latch.routes = true;
  if (registry.ready) latch.registry = true;
  if (transportCheck.ready) latch.transport = true;
  const current = routes.ready && registry.ready && transportCheck.ready;
  const served = readyWhileDegraded ? latch.routes && latch.registry && latch.transport : current;
  return {
    ready: gateway.ready && served,
    degraded: !current,
    checks: { routes, registry, transport: transportCheck, gateway },
  };
}
