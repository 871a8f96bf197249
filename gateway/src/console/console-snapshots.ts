import type { RegistryView } from '@switchyard/sdk';
import type { RouteStore } from '../routing/route-store.js';
import type { RouteRuntimes } from '../server/route-runtimes.js';
import type { UpstreamPool } from '../upstream/index.js';

/** What the console shows of one instance. */
export interface InstanceRow {
  id: string;
  version: string;
  address: string | undefined;
  metadata: Record<string, string>;
  methods: string[];
  startedAt: string;
  /** `ok`, `failing` (recent consecutive failures), `ejected` (outlier detection), or `registered` (no HTTP traffic to judge by). */
  health: 'ok' | 'failing' | 'ejected' | 'registered';
  /** Requests the gateway has open to it now (HTTP targets only). */
  inFlight: number | undefined;
  failures: number | undefined;
  latencyMs: number | undefined;
}

export interface ServiceRow {
  name: string;
  circuit: string;
  instances: InstanceRow[];
}

export interface RouteRow {
  id: string;
  description: string | undefined;
  path: string;
  hosts: string[] | undefined;
  methods: string[] | undefined;
  target: { type: string; service: string; method?: string | undefined };
  auth: { mode: string; scopes: string[] } | undefined;
  rateLimit: { points: number; durationSeconds: number; key: string } | undefined;
  timeoutMs: number;
  maxBodyBytes: number;
  requestSchema: string | undefined;
  /** Set when the gateway cannot serve it (misconfigured). */
  broken: string | undefined;
}

export interface RoutesSnapshot {
  version: number;
  synced: boolean;
  routes: RouteRow[];
  rejected: { id: string | undefined; origin: string; problems: string[] }[];
}

/** Where the console reads instances, and what the gateway knows of their load and health. */
export interface InstanceSources {
  view: RegistryView;
  pool: UpstreamPool;
  store: RouteStore;
}

export function serviceRow(src: InstanceSources, name: string): ServiceRow {
  const { view, pool } = src;
  // Only services behind an HTTP route have upstream state; asking the pool about any other would create it.
  const proxied = src.store.table.routes.some(
    (r) => r.definition.target.type === 'http' && r.definition.target.service === name,
  );
  const stats = new Map((proxied ? pool.stats(name) : []).map((s) => [s.id, s]));
  const now = Date.now();
  return {
    name,
    circuit: pool.circuitState(name),
    instances: view.instances(name).map((i) => {
      const s = stats.get(i.id);
      const health: InstanceRow['health'] =
        s === undefined ? 'registered' : s.ejectedUntil > now ? 'ejected' : s.failures > 0 ? 'failing' : 'ok';
      return {
        id: i.id,
        version: i.version,
        address: i.address?.http,
        metadata: { ...i.metadata },
        methods: Object.keys(i.methods).sort(),
        startedAt: i.startedAt,
        health,
        inFlight: s?.outstanding,
        failures: s?.failures,
        latencyMs: s === undefined ? undefined : Math.round(s.ewmaLatencyMs * 10) / 10,
      };
    }),
  };
}

export function servicesSnapshot(src: InstanceSources): ServiceRow[] {
  return src.view.services().map((name) => serviceRow(src, name));
}

export function routesSnapshot(store: RouteStore, runtimes: RouteRuntimes): RoutesSnapshot {
  return {
    version: store.version,
    synced: store.synced,
    routes: store.table.routes.map((route) => {
      const d = route.definition;
      const rt = runtimes.get(route);
      return {
        id: d.id,
        description: d.description,
        path: d.match.path,
        hosts: d.match.hosts ? [...d.match.hosts] : undefined,
        methods: d.match.methods ? [...d.match.methods] : undefined,
        target: {
          type: d.target.type,
          service: d.target.service,
          method: d.target.type === 'rpc' ? d.target.method : undefined,
        },
        auth: rt.auth ? { mode: rt.auth.mode, scopes: [...rt.auth.scopes] } : undefined,
        rateLimit: d.rateLimit
          ? { points: d.rateLimit.points, durationSeconds: d.rateLimit.durationSeconds, key: String(d.rateLimit.key) }
          : undefined,
        timeoutMs: rt.timeoutMs,
        maxBodyBytes: rt.maxBodyBytes,
        requestSchema: rt.requestSchema,
        broken: rt.broken?.message,
      };
    }),
    rejected: store.rejected().map((r) => ({
      id: r.id,
      origin: r.origin,
      problems: r.violations.map((v) => `${v.pointer || '/'}: ${v.message}`),
    })),
  };
}

/** Ids of the routes whose target is an RPC method (the "RPC" series of the charts). */
export function rpcRouteIds(store: RouteStore): Set<string> {
  return new Set(store.table.routes.filter((r) => r.definition.target.type === 'rpc').map((r) => r.id));
}
