/**
 * The store (Go Micro's `store`): records with a key, a JSON value, metadata, an optional
 * expiry and a version, in database/table namespaces. One interface, four backends —
 * PostgreSQL, Redis, etcd (small records) and memory — held to one contract
 * (tests/contract/store.contract.ts).
 */

/** Metadata values are scalars, so every backend keeps them as they were written. */
export type StoreMetadata = Readonly<Record<string, string | number | boolean>>;

export interface StoreRecord {
  readonly key: string;
  /** What was written, as JSON gives it back (a Date comes back as its ISO string). */
  readonly value: unknown;
  readonly metadata: StoreMetadata;
  /** When the record stops being read; undefined: never. */
  readonly expiresAt: Date | undefined;
  /** 1 on the first write, +1 on each write after; what `ifVersion` compares with. */
  readonly version: number;
}

/** Which records: the table (default `default`) of the database (default the Switchyard namespace). */
export interface StoreScope {
  database?: string;
  table?: string;
}

export interface ReadOptions extends StoreScope {
  /** Every record whose key starts with the key given. */
  prefix?: boolean;
  /** Every record whose key ends with the key given (scans the table: keep tables small). */
  suffix?: boolean;
  /** At most this many records, in key order (bytes of UTF-8). */
  limit?: number;
  /** Skip this many first. */
  offset?: number;
}

export interface ListOptions extends StoreScope {
  /** Keys starting with this. */
  prefix?: string;
  /** Keys ending with this. */
  suffix?: string;
  limit?: number;
  offset?: number;
}

/** A lock's fencing token (`LockHandle.fence`): a write carrying it fails once a newer token was seen. */
export interface Fence {
  /** The lock's name: tokens compare per name. */
  name: string;
  /** Grows with each acquisition (the etcd revision of the lock key). */
  token: number | bigint | string;
}

export interface WriteOptions extends StoreScope {
  metadata?: StoreMetadata;
  /** The record expires this long after the write (ms). */
  ttlMs?: number;
  /** Compare-and-set: write only if the record's version is this; 0 = only if it does not exist. */
  ifVersion?: number;
  /** Write only if no newer token of this lock has been seen, and remember this one. */
  fence?: Fence;
}

export interface DeleteOptions extends StoreScope {
  /** Delete only if the record's version is this. */
  ifVersion?: number;
}

export type StoreBackend = 'memory' | 'postgres' | 'redis' | 'etcd';

export interface Store {
  readonly backend: StoreBackend;
  /** Connect (and for PostgreSQL run the migrations). Idempotent. */
  start(): Promise<void>;
  /** Finish calls in flight, close connections. Idempotent. */
  close(): Promise<void>;
  /** The record at `key`, or with `prefix`/`suffix` every matching one, in key order. Expired records are never read. */
  read(key: string, options?: ReadOptions): Promise<StoreRecord[]>;
  /** Write a record; resolves with it as stored (its new version). VERSION_CONFLICT / FENCED when a condition fails. */
  write(key: string, value: unknown, options?: WriteOptions): Promise<StoreRecord>;
  /** Delete a record; false when there was none. */
  delete(key: string, options?: DeleteOptions): Promise<boolean>;
  /** Keys, in key order. */
  list(options?: ListOptions): Promise<string[]>;
}
