/** Shapes of the console API (gateway/src/console/console-snapshots.ts and friends). */
export interface InstanceRow {
  id: string;
  version: string;
  address?: string;
  metadata: Record<string, string>;
  methods: string[];
  startedAt: string;
  health: string;
  inFlight?: number;
  failures?: number;
  latencyMs?: number;
}
export interface ServiceRow {
  name: string;
  circuit: string;
  instances: InstanceRow[];
}
export interface RouteRow {
  id: string;
  description?: string;
  path: string;
  hosts?: string[];
  methods?: string[];
  target: { type: string; service: string; method?: string };
  auth?: { mode: string; scopes: string[] };
  rateLimit?: { points: number; durationSeconds: number; key: string };
  timeoutMs: number;
  maxBodyBytes: number;
  requestSchema?: string;
  broken?: string;
}
export interface RoutesSnapshot {
  version: number;
  synced: boolean;
  routes: RouteRow[];
  rejected: { id?: string; origin: string; problems: string[] }[];
}
export interface ErrorSummary {
  byCode: Record<string, number>;
  recent: { at: number; code: string; status: number; route?: string; message: string; requestId?: string }[];
}
export interface MetricsSample {
  t: number;
  requestRate: number;
  requestP50: number | null;
  requestP95: number | null;
  requestP99: number | null;
  rpcRate: number;
  rpcP50: number | null;
  rpcP95: number | null;
  rpcP99: number | null;
}
export interface Violation {
  pointer: string;
  message: string;
}
