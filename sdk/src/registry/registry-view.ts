import { ClosedError } from '@switchyard/broker';
import type { ServiceInstance } from './instance-record.js';
import { byId } from './keys.js';
import type { RegistryEvent, RegistryLogger, RegistryWatch, RegistryWatchSource } from './registry-events.js';
import { silentLogger } from './support.js';

export interface RegistryViewOptions {
  /** pino-compatible logger for listener failures. Default: silent. */
  logger?: RegistryLogger;
}

const EMPTY: readonly ServiceInstance[] = Object.freeze([]);

/**
 * A cached, watch-fed copy of the registry for readers on a hot path (the gateway's
 * routing, callers picking an instance): every query is synchronous and touches no I/O.
 *
 * When the store goes away the view keeps serving the last table it had and reports
 * `synced === false` (with `staleSince`); once the watch is back it replaces the table
 * with a fresh one and reports `synced` again. `instances(service)` returns the same
 * frozen array until that service changes, so readers may cache what they derive from it.
 */
export class RegistryView {
  private readonly table = new Map<string, Map<string, ServiceInstance>>();
  private readonly lists = new Map<string, readonly ServiceInstance[]>();
  private serviceNames: readonly string[] | undefined;
  private watchHandle: RegistryWatch | undefined;
  private isSynced = false;
  private syncedAt: Date | undefined;
  private staleAt: Date | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly changeListeners = new Set<(service: string) => void>();
  private readonly syncListeners = new Set<(synced: boolean) => void>();
  private readonly logger: RegistryLogger;
  private resolveReady!: () => void;
  private rejectReady!: (err: Error) => void;
  /** Resolves at the first complete sync; rejects with CLOSED if the view closes before. */
  readonly ready: Promise<void>;

  constructor(
    private readonly registry: RegistryWatchSource,
    options: RegistryViewOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Nobody is obliged to await `ready`; a close before the first sync must not become an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /** Idempotent. Subscribes to the registry; does not wait for the first sync (see `ready`). */
  async start(): Promise<void> {
    if (this.closed) throw new ClosedError('registry view is closed');
    this.watchHandle ??= this.registry.watch((e) => this.apply(e));
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.rejectReady(new ClosedError('registry view closed before its first sync'));
      await this.watchHandle?.close();
      this.changeListeners.clear();
      this.syncListeners.clear();
    })();
    return this.closing;
  }

  /** True while the table is known to be current (between a sync and the next disconnection). */
  get synced(): boolean {
    return this.isSynced;
  }

  /** When the table was last fully synced, if ever. */
  get lastSyncedAt(): Date | undefined {
    return this.syncedAt;
  }

  /** Since when the table has been stale (undefined while synced or before the first sync). */
  get staleSince(): Date | undefined {
    return this.staleAt;
  }

  /** The instances of `service`, sorted by id; an empty array for an unknown service. */
  instances(service: string): readonly ServiceInstance[] {
    let list = this.lists.get(service);
    if (!list) {
      const m = this.table.get(service);
      if (!m) return EMPTY;
      list = Object.freeze([...m.values()].sort(byId));
      this.lists.set(service, list);
    }
    return list;
  }

  instance(service: string, id: string): ServiceInstance | undefined {
    return this.table.get(service)?.get(id);
  }

  /** Services with at least one instance, sorted. */
  services(): readonly string[] {
    this.serviceNames ??= Object.freeze([...this.table.keys()].sort());
    return this.serviceNames;
  }

  /** Called with a service name whenever that service's instances change. Returns an unsubscribe function. */
  onChange(listener: (service: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Called when `synced` flips. Returns an unsubscribe function. */
  onSyncedChange(listener: (synced: boolean) => void): () => void {
    this.syncListeners.add(listener);
    return () => this.syncListeners.delete(listener);
  }

  private apply(e: RegistryEvent): void {
    if (this.closed) return;
    switch (e.type) {
      case 'sync':
        this.replace(e.instances);
        this.syncedAt = new Date();
        this.staleAt = undefined;
        this.setSynced(true);
        this.resolveReady();
        return;
      case 'put': {
        let m = this.table.get(e.instance.service);
        if (!m) {
          m = new Map();
          this.table.set(e.instance.service, m);
          this.serviceNames = undefined;
        }
        const before = m.get(e.instance.id);
        // A re-put of the same record (e.g. re-registration after a lost lease) changes nothing for readers.
        if (before && JSON.stringify(before) === JSON.stringify(e.instance)) return;
        m.set(e.instance.id, e.instance);
        this.changed(e.instance.service);
        return;
      }
      case 'delete': {
        const m = this.table.get(e.service);
        if (!m?.delete(e.id)) return;
        if (m.size === 0) {
          this.table.delete(e.service);
          this.serviceNames = undefined;
        }
        this.changed(e.service);
        return;
      }
      case 'disconnected':
        this.staleAt = new Date();
        this.setSynced(false);
        return;
    }
  }

  /** Swap in a full table, announcing only the services whose instances actually differ. */
  private replace(instances: readonly ServiceInstance[]): void {
    const next = new Map<string, Map<string, ServiceInstance>>();
    for (const inst of instances) {
      let m = next.get(inst.service);
      if (!m) {
        m = new Map();
        next.set(inst.service, m);
      }
      m.set(inst.id, inst);
    }
    const touched = new Set([...this.table.keys(), ...next.keys()]);
    const differing: string[] = [];
    for (const s of touched) {
      const m = next.get(s);
      // Unchanged services keep their map and cached array: readers may hold on to them.
      if (sameInstances(this.table.get(s), m)) continue;
      differing.push(s);
      if (m) this.table.set(s, m);
      else this.table.delete(s);
      this.lists.delete(s);
    }
    if (differing.length > 0) this.serviceNames = undefined;
    for (const s of differing) this.notify(s);
  }

  private changed(service: string): void {
    this.lists.delete(service);
    this.notify(service);
  }

  private notify(service: string): void {
    for (const l of this.changeListeners) {
      try {
        l(service);
      } catch (err) {
        this.logger.error({ err, service }, 'registry view: a change listener threw');
      }
    }
  }

  private setSynced(synced: boolean): void {
    if (this.isSynced === synced) return;
    this.isSynced = synced;
    for (const l of this.syncListeners) {
      try {
        l(synced);
      } catch (err) {
        this.logger.error({ err }, 'registry view: a synced listener threw');
      }
    }
  }
}

function sameInstances(a: Map<string, ServiceInstance> | undefined, b: Map<string, ServiceInstance> | undefined) {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  if (!a || !b) return true;
  for (const [id, inst] of a) {
    const other = b.get(id);
    if (!other || (other !== inst && JSON.stringify(other) !== JSON.stringify(inst))) return false;
  }
  return true;
}
