import type { RegisterInput, ServiceInstance } from './instance-record.js';
import type { RegistryListener, RegistryWatch } from './registry-events.js';
import type { RegistryView } from './registry-view.js';

export type { RegistryEvent, RegistryListener, RegistryLogger, RegistryWatch } from './registry-events.js';

/**
 * The service registry: who is running, where, and what they offer.
 *
 * Two implementations keep the same semantics (proven by one contract test suite):
 * `EtcdRegistry` for real deployments and `MemoryRegistry` for embedded mode and tests.
 * Every registration is held by a lease with a TTL: a process that dies without
 * deregistering disappears after the TTL; a graceful `deregister()`/`close()` removes it
 * at once.
 */
export interface Registry {
  /** Idempotent. Performs no I/O: an unreachable store shows up on first use instead. */
  start(): Promise<void>;
  /**
   * Idempotent. Closes views and watches, then deregisters every instance this registry
   * registered (deleted at once) and releases the connection.
   */
  close(): Promise<void>;
  /**
   * Register an instance and keep it alive until `deregister()` or `close()`. Fills in
   * defaults (`id`, `startedAt`, empty `methods`/`events`/`metadata`). Registering an id
   * that is already registered for the service replaces that record.
   * Rejects with INVALID_ARGUMENT for a bad record, UNAVAILABLE when the store is down.
   */
  register(input: RegisterInput): Promise<Registration>;
  /** The live instances of one service, read from the store now (sorted by id). */
  listInstances(service: string): Promise<ServiceInstance[]>;
  /** Names of services with at least one live instance, read from the store now (sorted). */
  listServices(): Promise<string[]>;
  /**
   * Follow every change. The listener first receives a `sync` with the full table, then
   * `put`/`delete` events; after a connection problem it receives `disconnected`, and a
   * fresh `sync` once the table is current again. Retries forever until closed. A
   * listener that throws is logged, never allowed to break the watch.
   */
  watch(listener: RegistryListener): RegistryWatch;
  /** The registry's shared cached view (created and started on first call, closed with the registry). */
  view(): RegistryView;
}

/** A live registration. Its handle is the only way to remove it before `close()`. */
export interface Registration {
  readonly instance: ServiceInstance;
  /** Remove the instance at once. Idempotent. If the store is unreachable the record expires after its TTL. */
  deregister(): Promise<void>;
  /**
   * Test hook: stop keeping the registration alive without deleting it, exactly as a
   * crashed process would. The record disappears when its TTL runs out. Idempotent.
   */
  simulateCrash(): void;
}
