/**
 * Distributed locks and leader election (Go Micro's `sync`), on etcd leases, with a
 * memory twin for embedded mode and unit tests. Every lock and leadership carries a
 * fencing token that grows with each acquisition: pass it to the store (`fence`) so that
 * a holder that lost its lease cannot overwrite its successor's writes.
 */
export interface LockOptions {
  /** Lease TTL, seconds: a holder that dies loses the lock this long after. Default 10 (etcd: >= 2). */
  ttlSec?: number;
  /** How long to wait for a held lock, ms; 0 tries once. Default 10000. DEADLINE_EXCEEDED after. */
  waitMs?: number;
}

/** Something held: a lock or a leadership. */
export interface Held {
  readonly name: string;
  /** Fencing token: the etcd revision that created the key; greater for every later holder. */
  readonly fence: bigint;
  /** True once the lease is gone (expired, revoked, etcd unreachable past the TTL). */
  readonly lost: boolean;
  /** Called once when the lease is lost (not on unlock/resign). */
  onLost(listener: (reason: Error) => void): void;
}

export interface LockHandle extends Held {
  /** Release the lock. Idempotent. */
  unlock(): Promise<void>;
}

export interface Leadership extends Held {
  readonly value: string;
  /** Step down. Idempotent. */
  resign(): Promise<void>;
}

export interface CampaignOptions {
  /** What observers see as the leader. Default a random id. */
  value?: string;
  /** Lease TTL, seconds. Default 10. */
  ttlSec?: number;
  /** Give up after this long, ms (DEADLINE_EXCEEDED). Default: wait until elected. */
  waitMs?: number;
}

export interface Sync {
  readonly backend: 'memory' | 'etcd';
  lock(name: string, options?: LockOptions): Promise<LockHandle>;
  /** Run `work` holding the lock; unlock whatever happens. */
  withLock<T>(name: string, work: (lock: LockHandle) => Promise<T> | T, options?: LockOptions): Promise<T>;
  /** Resolves when this caller leads `name`. */
  campaign(name: string, options?: CampaignOptions): Promise<Leadership>;
  /** The current leader's value, if any. */
  leader(name: string): Promise<string | undefined>;
  /** Calls `listener` with each new leader (undefined: none); resolves with a stop function. */
  observe(name: string, listener: (leader: string | undefined) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
