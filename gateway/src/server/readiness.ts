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
 * What a load balancer should know: send traffic here or not. A gateway that lost etcd
 * still serves its last route table and instance list, but says so: `/readyz` is 503 with
 * the failing check named, so an operator sees it and a balancer can prefer a healthy
 * gateway. A draining gateway is not ready, so balancers stop sending before it closes.
 */
export function readiness(
  phase: GatewayPhase,
  store: RouteStore,
  routeSource: string,
  view: RegistryView,
  transport: Transport,
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
  return {
    ready: routes.ready && registry.ready && transportCheck.ready && gateway.ready,
    checks: { routes, registry, transport: transportCheck, gateway },
  };
}
