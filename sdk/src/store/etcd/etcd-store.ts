import { InvalidOptionsError } from '@switchyard/broker';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient, type EtcdTlsOptions } from '../../registry/etcd-client.js';
import { etcdUnavailable } from '../../registry/etcd-errors.js';
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
  type CheckedWrite,
  checkDelete,
  checkList,
  checkRead,
  checkWrite,
  closed,
  fenced,
  padToken,
  page,
  type Scope,
  scopeOf,
  versionConflict,
  writtenRecord,
} from '../store-checks.js';

/** etcd takes requests up to 1.5 MiB by default; records here are small by design. */
const DEFAULT_ETCD_MAX_VALUE_BYTES = 256 * 1024;

export interface EtcdStoreOptions {
  /** etcd client URLs. Required unless `client` is given. */
  endpoints?: readonly string[];
  /** Use this client (not closed by the store unless `closeClient`). */
  client?: Etcd3;
  /** Close `client` with the store (it was made for it). Default false. */
  closeClient?: boolean;
  tls?: EtcdTlsOptions;
  /** Keys live under `/<namespace>/store/`. Default `switchyard`. */
  namespace?: string;
  /** Default database. Default the namespace. */
  database?: string;
  /** Default 256 KiB: etcd is for small records (config, coordination state). */
  maxValueBytes?: number;
}

interface Stored {
  v: unknown;
  m: StoreMetadata;
  e: number | null;
}

interface Kv {
  key: string;
  stored: Stored;
  version: number;
  mod: string;
}

/**
 * The store on etcd, for small records next to the registry and the locks: one key per
 * record (`/<ns>/store/<database>/<table>/<key>`), the record's version is etcd's key
 * version, a TTL is a lease (and checked on every read, since etcd deletes on its own
 * clock, at least a second or so late). Conditions are etcd transactions.
 */
export class EtcdStore implements Store {
  readonly backend = 'etcd' as const;
  readonly #client: Etcd3;
  readonly #owns: boolean;
  readonly #ns: string;
  readonly #database: string;
  readonly #maxValueBytes: number;
  #closed = false;

  constructor(options: EtcdStoreOptions) {
    if (!options?.client && (!options?.endpoints || options.endpoints.length === 0)) {
      throw new InvalidOptionsError('EtcdStore needs "endpoints" or "client"', { details: { option: 'endpoints' } });
    }
    this.#ns = options.namespace ?? 'switchyard';
    this.#database = scopeOf({ database: options.database ?? this.#ns }, this.#ns).database;
    this.#maxValueBytes = options.maxValueBytes ?? DEFAULT_ETCD_MAX_VALUE_BYTES;
    this.#client = options.client ?? createEtcdClient(options.endpoints!, options.tls ? { tls: options.tls } : {});
    this.#owns = options.client === undefined || options.closeClient === true;
  }

  async start(): Promise<void> {
    await this.#call('connecting', () => this.#client.get(`/${this.#ns}/store/`).exec());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owns) this.#client.close();
  }

  async #call<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closed('etcd');
    try {
      return await work();
    } catch (err) {
      throw etcdUnavailable(err, `store ${what}`);
    }
  }

  #base(s: Scope): string {
    return `/${this.#ns}/store/${s.database}/${s.table}/`;
  }

  #fenceKey(s: Scope, name: string): string {
    return `/${this.#ns}/store-fences/${s.database}/${name}`;
  }

  /** Live records under `prefix` (a whole table when it ends in `/`), in key order. */
  async #range(s: Scope, prefix: string): Promise<Kv[]> {
    const base = this.#base(s);
    const res = await this.#call('read', () =>
      this.#client
        .getAll()
        .prefix(base + prefix)
        .exec(),
    );
    const now = Date.now();
    return res.kvs
      .map((kv) => toKv(kv.key.toString().slice(base.length), kv))
      .filter((kv) => kv.stored.e === null || kv.stored.e > now)
      .sort((a, b) => byKey(a.key, b.key));
  }

  async #one(s: Scope, key: string): Promise<Kv | undefined> {
    const res = await this.#call('read', () => this.#client.get(this.#base(s) + key).exec());
    const kv = res.kvs[0];
    return kv ? toKv(key, kv) : undefined;
  }

  async read(key: string, options?: ReadOptions): Promise<StoreRecord[]> {
    const q = checkRead(key, options);
    const s = scopeOf(options, this.#database);
    if (q.mode === 'exact') {
      const kv = await this.#one(s, q.key);
      const live = kv && (kv.stored.e === null || kv.stored.e > Date.now()) ? [kv] : [];
      return page(live, q.range).map(record);
    }
    const kvs =
      q.mode === 'prefix'
        ? await this.#range(s, q.key)
        : (await this.#range(s, '')).filter((kv) => kv.key.endsWith(q.key));
    return page(kvs, q.range).map(record);
  }

  async write(key: string, value: unknown, options?: WriteOptions): Promise<StoreRecord> {
    const w = checkWrite(key, value, options, this.#maxValueBytes);
    const s = scopeOf(options, this.#database);
    if (w.fence) {
      // A compare on the value of a missing key always fails in etcd: make the fence exist first.
      const fk = this.#fenceKey(s, w.fence.name);
      await this.#call('write', () =>
        this.#client
          .if(fk, 'Version', '==', 0)
          .then(this.#client.put(fk).value(padToken(0n)))
          .commit(),
      );
    }
    const first = await this.#attempt(s, w);
    if (first !== 'conflict') return first;
    // A record past its expiry that etcd has not deleted yet counts as absent: delete it and retry once.
    const current = await this.#one(s, w.key);
    if (current && current.stored.e !== null && current.stored.e <= Date.now()) {
      const k = this.#base(s) + w.key;
      await this.#call('write', () =>
        this.#client.if(k, 'Mod', '==', current.mod).then(this.#client.delete().key(k)).commit(),
      );
      const second = await this.#attempt(s, w);
      if (second !== 'conflict') return second;
    }
    return this.#explainConflict(s, w);
  }

  async #attempt(s: Scope, w: CheckedWrite): Promise<StoreRecord | 'conflict'> {
    const k = this.#base(s) + w.key;
    const body = `{"v":${w.json},"m":${JSON.stringify(w.metadata)},"e":${w.expiresAt?.getTime() ?? null}}`;
    let lease: string | undefined;
    const l =
      w.ttlMs === undefined ? undefined : this.#client.lease(Math.ceil(w.ttlMs / 1000), { autoKeepAlive: false });
    if (l) lease = await this.#call('write', () => l.grant());
    const put = lease === undefined ? this.#client.put(k).value(body) : this.#client.put(k).value(body).lease(lease);
    const ops: Parameters<ReturnType<Etcd3['if']>['then']> = [put];
    let txn = this.#client.if(k, 'Version', '>', -1); // always true: a base to add conditions to
    if (w.ifVersion !== undefined) txn = this.#client.if(k, 'Version', '==', w.ifVersion);
    if (w.fence) {
      const fk = this.#fenceKey(s, w.fence.name);
      txn = txn.and(fk, 'Value', '<', padToken(w.fence.token + 1n));
      ops.push(this.#client.put(fk).value(padToken(w.fence.token)));
    }
    // Read back in the same transaction: the version this put made, whatever comes after.
    ops.push(this.#client.get(k));
    const res = await this.#call('write', () => txn.then(...ops).commit());
    if (!res.succeeded) {
      if (l) await l.revoke().catch(() => {});
      return 'conflict';
    }
    const readBack = res.responses.at(-1)?.response_range?.kvs[0];
    return writtenRecord(w, Number(readBack?.version ?? 1));
  }

  async #explainConflict(s: Scope, w: CheckedWrite): Promise<never> {
    if (w.fence) {
      const res = await this.#call('write', () => this.#client.get(this.#fenceKey(s, w.fence!.name)).exec());
      const seen = BigInt(res.kvs[0]?.value.toString() ?? '0');
      if (seen > w.fence.token) throw fenced(w.key, w.fence, seen);
    }
    const current = await this.#one(s, w.key);
    throw versionConflict(w.key, w.ifVersion ?? 0, current?.version);
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    const d = checkDelete(key, options);
    const s = scopeOf(options, this.#database);
    const k = this.#base(s) + d.key;
    const current = await this.#one(s, d.key);
    const live = current !== undefined && (current.stored.e === null || current.stored.e > Date.now());
    if (d.ifVersion !== undefined && (live ? current!.version : 0) !== d.ifVersion) {
      throw versionConflict(d.key, d.ifVersion, live ? current!.version : 0);
    }
    if (!current) return false;
    const res = await this.#call('delete', () =>
      this.#client.if(k, 'Mod', '==', current.mod).then(this.#client.delete().key(k)).commit(),
    );
    if (!res.succeeded) {
      if (d.ifVersion !== undefined) throw versionConflict(d.key, d.ifVersion, (await this.#one(s, d.key))?.version);
      return this.delete(key, options); // changed in between: try again on what is there now
    }
    return live;
  }

  async list(options?: ListOptions): Promise<string[]> {
    const q = checkList(options);
    const s = scopeOf(options, this.#database);
    const keys = (await this.#range(s, q.prefix)).map((kv) => kv.key).filter((k) => k.endsWith(q.suffix));
    return page(keys, q.range);
  }
}

function toKv(key: string, kv: { value: Buffer; version: string; mod_revision: string }): Kv {
  return { key, stored: JSON.parse(kv.value.toString()) as Stored, version: Number(kv.version), mod: kv.mod_revision };
}

function record(kv: Kv): StoreRecord {
  return Object.freeze({
    key: kv.key,
    value: kv.stored.v,
    metadata: kv.stored.m,
    expiresAt: kv.stored.e === null ? undefined : new Date(kv.stored.e),
    version: kv.version,
  });
}
