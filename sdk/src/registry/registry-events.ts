import type { ServiceInstance } from './instance-record.js';

// What a registry's watch delivers, below both the Registry interface (types.ts) and the
// cached view built on a watch (registry-view.ts), so neither imports the other's file back.

export type RegistryEvent =
  /** The full table, replacing whatever the listener knew before. */
  | { type: 'sync'; instances: ServiceInstance[] }
  /** An instance was added or its record replaced. */
  | { type: 'put'; instance: ServiceInstance }
  /** An instance was removed (deregistered, expired, or its record became invalid). */
  | { type: 'delete'; service: string; id: string }
  /** The watch lost the store: the last table may be stale until the next `sync`. */
  | { type: 'disconnected'; reason: string };

export type RegistryListener = (event: RegistryEvent) => void;

export interface RegistryWatch {
  /** True between a `sync` and the next `disconnected`. */
  readonly synced: boolean;
  /** Idempotent. No event is delivered after it resolves. */
  close(): Promise<void>;
}

/** The subset of a pino logger the registry uses; pino loggers fit as they are. */
export interface RegistryLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What a view needs of a registry: its watch (every Registry is one). */
export interface RegistryWatchSource {
  watch(listener: RegistryListener): RegistryWatch;
}
