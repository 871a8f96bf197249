import { InvalidOptionsError, isSwitchyardError, UnavailableError } from '@switchyard/broker';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
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
  DEFAULT_MAX_VALUE_BYTES,
  fenced,
  NO_METADATA,
  padToken,
  page,
  type Range,
  type Scope,
  scopeOf,
  versionConflict,
  writtenRecord,
} from '../store-checks.js';

export interface RedisStoreOptions {
  /** `redis://host:6379/0` or `rediss://` for TLS. Required. */
  url: string;
  /** Default database (a key prefix, not Redis's numbered database). Default `switchyard`. */
  database?: string;
  /** Prefix of every key. Default `sy:store`. */
  keyPrefix?: string;
  maxValueBytes?: number;
  /** TLS for rediss:// (PEM contents). */
  tls?: { ca?: string; cert?: string; key?: string };
  /**
   * A call fails UNAVAILABLE after this long without an answer, ms. A write that failed so
   * may still be applied when Redis catches up: use `ifVersion` where that matters.
   * Default 5000; 0: no limit.
   */
  commandTimeoutMs?: number;
  logger?: Logger;
}

/**
 * Checks and writes in one step (Redis runs a script alone): version compare, fence,
 * then the record as a hash (v, m, ver) with its TTL. Returns {version} or {-1, current}
 * for a version conflict, {-2, seen} for a stale fence.
 */
const WRITE = `
local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
local want = tonumber(ARGV[4])
if want >= 0 and want ~= ver then return {-1, ver} end
if ARGV[5] ~= '' then
  local seen = redis.call('GET', KEYS[2])
  if seen and seen > ARGV[5] then return {-2, seen} end
  redis.call('SET', KEYS[2], ARGV[5])
end
ver = ver + 1
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'm', ARGV[2], 'ver', ver, 'e', ARGV[3])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return {ver, 0}`;

/**
 * The plain write (no compare, no fence), which most writes are: a third of WRITE's work in
 * Redis, whose Lua calls cost more than the commands in them. The four fields are always
 * written together, so no DEL is needed to drop an older record's fields.
 */
const WRITE_PLAIN = `
local ver = redis.call('HINCRBY', KEYS[1], 'ver', 1)
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'm', ARGV[2], 'e', ARGV[3])
if ARGV[3] ~= '0' then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) else redis.call('PERSIST', KEYS[1]) end
return ver`;

const DELETE = `
local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
local want = tonumber(ARGV[1])
if want >= 0 and want ~= ver then return -1 - ver end
return redis.call('DEL', KEYS[1])`;

type StoreRedis = Redis & {
  syWrite(record: string, fence: string, ...args: string[]): Promise<[number, number | string]>;
  syWritePlain(record: string, value: string, metadata: string, expiresAt: string): Promise<number>;
  syDelete(record: string, ifVersion: string): Promise<number>;
};

/**
 * The store on Redis (`ioredis`): a hash per record under `<prefix>:<database>:<table>:`,
 * with Redis's own expiry. Reads by prefix or suffix scan the table's keys (SCAN), so
 * keep those tables small or use PostgreSQL. Writes with conditions run as one script.
 */
export class RedisStore implements Store {
  readonly backend = 'redis' as const;
  readonly #redis: StoreRedis;
  readonly #database: string;
  readonly #prefix: string;
  readonly #maxValueBytes: number;
  readonly #bases = new Map<Scope, string>();
  #closed = false;

  constructor(options: RedisStoreOptions) {
    if (typeof options?.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
      throw new InvalidOptionsError('RedisStore option "url" must be a redis:// or rediss:// URL', {
        details: { option: 'url' },
      });
    }
    this.#database = scopeOf({ database: options.database ?? 'switchyard' }, 'switchyard').database;
    this.#prefix = options.keyPrefix ?? 'sy:store';
    this.#maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    const redisOptions: RedisOptions = {
      lazyConnect: true,
      // A call while Redis is away fails at once (UNAVAILABLE) instead of queueing unboundedly.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      enableAutoPipelining: true,
      // A timer per call, not ioredis's cheaper socketTimeout: that one is never armed for
      // auto-pipelined commands, and a frozen Redis then hangs every call (the fault test).
      // ioredis takes 0 as "time out at once"; here 0 means no limit.
      ...((options.commandTimeoutMs ?? 5_000) > 0 ? { commandTimeout: options.commandTimeoutMs ?? 5_000 } : {}),
      ...(options.tls ? { tls: { ...options.tls } } : {}),
    };
    this.#redis = new Redis(options.url, redisOptions) as StoreRedis;
    this.#redis.defineCommand('syWrite', { numberOfKeys: 2, lua: WRITE });
    this.#redis.defineCommand('syWritePlain', { numberOfKeys: 1, lua: WRITE_PLAIN });
    this.#redis.defineCommand('syDelete', { numberOfKeys: 1, lua: DELETE });
    this.#redis.on('error', (err: Error) =>
      options.logger?.warn({ err: err.message }, 'store: Redis connection error'),
    );
  }

  /** The ioredis client (for tests and benchmarks). */
  get client(): Redis {
    return this.#redis;
  }

  async start(): Promise<void> {
    if (this.#redis.status === 'wait') await this.#call(() => this.#redis.connect());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  #base(s: Scope): string {
    let base = this.#bases.get(s);
    if (base === undefined) {
      if (this.#bases.size >= 1024) this.#bases.clear();
      base = `${this.#prefix}:${s.database}:${s.table}:`;
      this.#bases.set(s, base);
    }
    return base;
  }

  readonly #unavailable = (err: unknown): never => {
    if (isSwitchyardError(err)) throw err;
    throw new UnavailableError(`Redis is unavailable (${(err as Error).message})`, {
      cause: err,
      details: { backend: 'redis' },
    });
  };

  // Not async on purpose: the exact read and the plain write are one command each, and an
  // await chain per call (read -> fetch -> call) added promise hops to the hottest path.
  #call<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(closed('redis'));
    try {
      return work().then(undefined, this.#unavailable);
    } catch (err) {
      return Promise.reject(err).catch(this.#unavailable);
    }
  }

  /** Keys of the table matching a glob, unprefixed, in key order. */
  async #scan(s: Scope, glob: string): Promise<string[]> {
    const base = this.#base(s);
    const keys: string[] = [];
    await this.#call(
      () =>
        new Promise<void>((resolve, reject) => {
          const stream = this.#redis.scanStream({ match: `${escapeGlob(base)}${glob}`, count: 1000 });
          stream.on('data', (batch: string[]) => {
            for (const k of batch) keys.push(k.slice(base.length));
          });
          stream.on('end', () => resolve());
          stream.on('error', reject);
        }),
    );
    return [...new Set(keys)].sort(byKey);
  }

  async #fetch(s: Scope, keys: string[]): Promise<StoreRecord[]> {
    if (keys.length === 0) return [];
    const base = this.#base(s);
    const results = await this.#call(async () => {
      const p = this.#redis.pipeline();
      for (const k of keys) p.hmget(base + k, 'v', 'm', 'ver', 'e');
      return (await p.exec()) ?? [];
    });
    const out: StoreRecord[] = [];
    keys.forEach((key, i) => {
      const [err, fields] = results[i]!;
      if (err) throw err;
      const r = toRecord(key, fields as Array<string | null>);
      if (r) out.push(r); // gone (expired or deleted) since the scan: skipped, never stale
    });
    return out;
  }

  read(key: string, options?: ReadOptions): Promise<StoreRecord[]> {
    let q: ReturnType<typeof checkRead>;
    let s: Scope;
    try {
      q = checkRead(key, options);
      s = scopeOf(options, this.#database);
    } catch (err) {
      return Promise.reject(err);
    }
    if (q.mode === 'exact') {
      // One HMGET: the expiry is a field too, so an exact read is one command.
      const { key: k, range } = q;
      return this.#call(() => this.#redis.hmget(this.#base(s) + k, 'v', 'm', 'ver', 'e')).then((fields) => {
        const r = toRecord(k, fields);
        return page(r ? [r] : [], range);
      });
    }
    return this.#readMatching(s, q.mode, q.key, q.range);
  }

  async #readMatching(s: Scope, mode: 'prefix' | 'suffix', key: string, range: Range): Promise<StoreRecord[]> {
    const keys = await this.#scan(s, mode === 'prefix' ? `${escapeGlob(key)}*` : `*${escapeGlob(key)}`);
    // Fetch only the page; a record gone between scan and fetch shortens it (never stale data).
    return this.#fetch(s, page(keys, range));
  }

  write(key: string, value: unknown, options?: WriteOptions): Promise<StoreRecord> {
    let w: CheckedWrite;
    let s: Scope;
    try {
      w = checkWrite(key, value, options, this.#maxValueBytes);
      s = scopeOf(options, this.#database);
    } catch (err) {
      return Promise.reject(err);
    }
    const record = this.#base(s) + w.key;
    const metadata = w.metadata === NO_METADATA ? '{}' : JSON.stringify(w.metadata);
    const expiresAt = String(w.expiresAt?.getTime() ?? 0);
    if (w.ifVersion === undefined && w.fence === undefined) {
      return this.#call(() => this.#redis.syWritePlain(record, w.json, metadata, expiresAt)).then((version) =>
        writtenRecord(w, version),
      );
    }
    const fenceKey = `${this.#prefix}:fence:${s.database}:${w.fence?.name ?? ''}`;
    return this.#call(() =>
      this.#redis.syWrite(
        record,
        fenceKey,
        w.json,
        metadata,
        expiresAt,
        String(w.ifVersion ?? -1),
        w.fence ? padToken(w.fence.token) : '',
      ),
    ).then(([version, other]) => {
      if (version === -1) throw versionConflict(w.key, w.ifVersion!, Number(other));
      if (version === -2) throw fenced(w.key, w.fence!, BigInt(String(other)));
      return writtenRecord(w, version);
    });
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    const d = checkDelete(key, options);
    const s = scopeOf(options, this.#database);
    const r = await this.#call(() => this.#redis.syDelete(this.#base(s) + d.key, String(d.ifVersion ?? -1)));
    if (r < 0) throw versionConflict(d.key, d.ifVersion!, -1 - r);
    return r > 0;
  }

  async list(options?: ListOptions): Promise<string[]> {
    const q = checkList(options);
    const s = scopeOf(options, this.#database);
    const keys = await this.#scan(s, `${escapeGlob(q.prefix)}*`);
    return page(
      keys.filter((k) => k.endsWith(q.suffix)),
      q.range,
    );
  }
}

function toRecord(key: string, [v, m, ver, e]: Array<string | null>): StoreRecord | undefined {
  if (v === null || v === undefined || ver === null || ver === undefined) return undefined;
  const at = Number(e ?? 0);
  return Object.freeze({
    key,
    value: JSON.parse(v) as unknown,
    metadata: m === null || m === undefined || m === '{}' ? NO_METADATA : (JSON.parse(m) as StoreMetadata),
    expiresAt: at > 0 ? new Date(at) : undefined,
    version: Number(ver),
  });
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
