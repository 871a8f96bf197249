import type {
  DeleteOptions,
  ListOptions,
  ReadOptions,
  Store,
  StoreMetadata,
  StoreRecord,
  WriteOptions,
} from '../store.js';
import {
  byKey,
  checkDelete,
  checkList,
  checkRead,
  checkWrite,
  closed,
  DEFAULT_MAX_VALUE_BYTES,
  fenced,
  page,
  scopeOf,
  versionConflict,
} from '../store-checks.js';

interface Entry {
  json: string;
  metadata: StoreMetadata;
  expiresAt: number | undefined;
  version: number;
}

export interface MemoryStoreOptions {
  /** Default database. Default `switchyard`. */
  database?: string;
  maxValueBytes?: number;
}

/**
 * The embedded store: a process's own maps, for `npm start` and unit tests. Values are
 * kept as JSON text, so what is read back is what any other backend would give.
 */
export class MemoryStore implements Store {
  readonly backend = 'memory' as const;
  readonly #tables = new Map<string, Map<string, Entry>>();
  readonly #fences = new Map<string, bigint>();
  readonly #database: string;
  readonly #maxValueBytes: number;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.#database = options.database ?? 'switchyard';
    this.#maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
  }

  #table(options: { database?: string; table?: string } | undefined, create: boolean): Map<string, Entry> | undefined {
    if (this.#closed) throw closed('memory');
    const { database, table } = scopeOf(options, this.#database);
    const name = `${database}/${table}`;
    let t = this.#tables.get(name);
    if (!t && create) {
      t = new Map();
      this.#tables.set(name, t);
    }
    return t;
  }

  /** The live entry at `key`; an expired one is dropped on the way. */
  #live(t: Map<string, Entry> | undefined, key: string, now = Date.now()): Entry | undefined {
    const e = t?.get(key);
    if (e && e.expiresAt !== undefined && e.expiresAt <= now) {
      t!.delete(key);
      return undefined;
    }
    return e;
  }

  async read(key: string, options?: ReadOptions): Promise<StoreRecord[]> {
    const q = checkRead(key, options);
    const t = this.#table(options, false);
    if (q.mode === 'exact') {
      const e = this.#live(t, q.key);
      return page(e ? [record(q.key, e)] : [], q.range);
    }
    const now = Date.now();
    const keys = [...(t?.keys() ?? [])]
      .filter((k) => (q.mode === 'prefix' ? k.startsWith(q.key) : k.endsWith(q.key)))
      .filter((k) => this.#live(t, k, now) !== undefined)
      .sort(byKey);
    return page(keys, q.range).map((k) => record(k, t!.get(k)!));
  }

  async write(key: string, value: unknown, options?: WriteOptions): Promise<StoreRecord> {
    const w = checkWrite(key, value, options, this.#maxValueBytes);
    const { database } = scopeOf(options, this.#database);
    const t = this.#table(options, true)!;
    const current = this.#live(t, w.key);
    if (w.ifVersion !== undefined && (current?.version ?? 0) !== w.ifVersion) {
      throw versionConflict(w.key, w.ifVersion, current?.version);
    }
    if (w.fence) {
      const name = `${database}/${w.fence.name}`;
      const seen = this.#fences.get(name);
      if (seen !== undefined && seen > w.fence.token) throw fenced(w.key, w.fence, seen);
      this.#fences.set(name, w.fence.token);
    }
    const entry: Entry = {
      json: w.json,
      metadata: w.metadata,
      expiresAt: w.expiresAt?.getTime(),
      version: (current?.version ?? 0) + 1,
    };
    t.set(w.key, entry);
    return record(w.key, entry);
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    const d = checkDelete(key, options);
    const t = this.#table(options, false);
    const current = this.#live(t, d.key);
    if (d.ifVersion !== undefined && (current?.version ?? 0) !== d.ifVersion) {
      throw versionConflict(d.key, d.ifVersion, current?.version);
    }
    if (!current) return false;
    t!.delete(d.key);
    return true;
  }

  async list(options?: ListOptions): Promise<string[]> {
    const q = checkList(options);
    const t = this.#table(options, false);
    const now = Date.now();
    const keys = [...(t?.keys() ?? [])]
      .filter((k) => k.startsWith(q.prefix) && k.endsWith(q.suffix) && this.#live(t, k, now) !== undefined)
      .sort(byKey);
    return page(keys, q.range);
  }
}

function record(key: string, e: Entry): StoreRecord {
  return Object.freeze({
    key,
    value: JSON.parse(e.json) as unknown,
    metadata: e.metadata,
    expiresAt: e.expiresAt === undefined ? undefined : new Date(e.expiresAt),
    version: e.version,
  });
}
