import { NotFoundError } from '@switchyard/broker';

/**
 * An in-process stand-in for etcd's KV + lease + watch, just enough for the registry:
 * string keys and values, leases whose keys vanish when they are revoked or not kept
 * alive within their TTL, and prefix watchers. Several `MemoryRegistry` clients sharing
 * one backend see each other, as processes sharing an etcd do.
 *
 * Timers are unref'd: a forgotten backend never keeps a process alive.
 */
export type MemoryBackendChange =
  | { type: 'put'; key: string; value: string }
  | { type: 'delete'; key: string }
  /** Delivered when a watcher (re)connects: every key under its prefix. */
  | { type: 'sync'; entries: [key: string, value: string][] }
  | { type: 'disconnected' };

interface Lease {
  timer: NodeJS.Timeout;
  keys: Set<string>;
}

interface Watcher {
  prefix: string;
  connected: boolean;
  listener: (change: MemoryBackendChange) => void;
}

export class MemoryRegistryBackend {
  private readonly entries = new Map<string, { value: string; lease: number | undefined }>();
  private readonly leases = new Map<number, Lease>();
  private readonly watchers = new Set<Watcher>();
  private nextLeaseId = 1;
  private outage = false;

  /** A lease that expires `ttlMs` from now unless kept alive. */
  grant(ttlMs: number): number {
    const id = this.nextLeaseId++;
    const timer = setTimeout(() => this.revoke(id), ttlMs);
    timer.unref();
    this.leases.set(id, { timer, keys: new Set() });
    return id;
  }

  /** Restart the lease's TTL; false when the lease is gone (expired or revoked). */
  keepAlive(lease: number): boolean {
    const l = this.leases.get(lease);
    l?.timer.refresh();
    return l !== undefined;
  }

  /** End a lease and delete every key it holds. */
  revoke(lease: number): void {
    const l = this.leases.get(lease);
    if (!l) return;
    clearTimeout(l.timer);
    this.leases.delete(lease);
    for (const key of l.keys) this.delete(key);
  }

  /** Put a value; with a lease the key moves to it (out of any previous lease), as in etcd. */
  put(key: string, value: string, lease?: number): void {
    if (lease !== undefined && !this.leases.has(lease)) throw new NotFoundError(`lease ${lease} not found`);
    const before = this.entries.get(key);
    if (before?.lease !== undefined) this.leases.get(before.lease)?.keys.delete(key);
    this.entries.set(key, { value, lease });
    if (lease !== undefined) this.leases.get(lease)!.keys.add(key);
    this.publish({ type: 'put', key, value });
  }

  delete(key: string): void {
    const before = this.entries.get(key);
    if (!before) return;
    if (before.lease !== undefined) this.leases.get(before.lease)?.keys.delete(key);
    this.entries.delete(key);
    this.publish({ type: 'delete', key });
  }

  /** Every key under `prefix`, sorted by key. */
  range(prefix: string): [key: string, value: string][] {
    const out: [string, string][] = [];
    for (const [k, e] of this.entries) if (k.startsWith(prefix)) out.push([k, e.value]);
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /**
   * Watch a prefix. Changes arrive asynchronously and in order, starting with a `sync`
   * (like etcd's list-then-watch). Returns the function that stops the watch.
   */
  watch(prefix: string, listener: (change: MemoryBackendChange) => void): () => void {
    const w: Watcher = { prefix, connected: false, listener };
    this.watchers.add(w);
    if (!this.outage) this.connect(w);
    return () => {
      this.watchers.delete(w);
    };
  }

  /**
   * Test hook: cut every watcher off (each gets `disconnected`; changes made meanwhile are
   * not delivered) until the returned function is called, which reconnects them with a
   * fresh `sync`. Leases and keys are unaffected.
   */
  simulateWatchOutage(): () => void {
    this.outage = true;
    for (const w of this.watchers) {
      w.connected = false;
      this.send(w, { type: 'disconnected' });
    }
    return () => {
      if (!this.outage) return;
      this.outage = false;
      for (const w of this.watchers) this.connect(w);
    };
  }

  private connect(w: Watcher): void {
    w.connected = true;
    this.send(w, { type: 'sync', entries: this.range(w.prefix) });
  }

  private publish(change: MemoryBackendChange & { key: string }): void {
    for (const w of this.watchers) {
      if (w.connected && change.key.startsWith(w.prefix)) this.send(w, change);
    }
  }

  private send(w: Watcher, change: MemoryBackendChange): void {
    // Asynchronous like a network watch: listeners never run inside the caller's put().
    queueMicrotask(() => {
      if (this.watchers.has(w)) w.listener(change);
    });
  }
}
