import { ClosedError, FencedError, InvalidArgumentError, VersionConflictError } from '@switchyard/broker';
import type {
  DeleteOptions,
  Fence,
  ListOptions,
  ReadOptions,
  StoreMetadata,
  StoreRecord,
  StoreScope,
  WriteOptions,
} from './store.js';

/** Keys are at most this many bytes of UTF-8 (etcd, Redis and PostgreSQL all take it). */
export const MAX_KEY_BYTES = 512;
/** Default bound on a value's JSON, bytes. */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
export const DEFAULT_TABLE = 'default';
/** Database and table names: parts of keys and SQL values, so a safe alphabet (a namespace's, which is the default database). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_METADATA_ENTRIES = 64;

export interface Scope {
  readonly database: string;
  readonly table: string;
}

function bad(message: string, details: Record<string, unknown>): InstanceType<typeof InvalidArgumentError> {
  return new InvalidArgumentError(message, { details });
}

export function checkKey(key: unknown, what = 'key'): string {
  if (typeof key !== 'string' || key === '') throw bad(`store ${what} must be a non-empty string`, { key });
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw bad(`store ${what} is ${Buffer.byteLength(key)} bytes; the limit is ${MAX_KEY_BYTES}`, {
      key: `${key.slice(0, 40)}…`,
    });
  }
  if (CONTROL.test(key)) throw bad(`store ${what} ${JSON.stringify(key)} has a control character`, { key });
  return key;
}

/** Scopes already checked (bounded): a hot path names the same few tables again and again. */
const checkedScopes = new Map<string, Scope>();
const MAX_CHECKED_SCOPES = 1024;

export function scopeOf(options: StoreScope | undefined, defaultDatabase: string): Scope {
  const database = options?.database ?? defaultDatabase;
  const table = options?.table ?? DEFAULT_TABLE;
  const id = `${database}\u0000${table}`;
  const known = checkedScopes.get(id);
  if (known) return known;
  for (const [what, name] of [
    ['database', database],
    ['table', table],
  ] as const) {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw bad(`store ${what} must match ${NAME.source}, got ${JSON.stringify(name)}`, { [what]: name });
    }
  }
  const scope = Object.freeze({ database, table });
  if (checkedScopes.size >= MAX_CHECKED_SCOPES) checkedScopes.clear();
  checkedScopes.set(id, scope);
  return scope;
}

/**
 * The record a write returns. Its value is what a read would give (the JSON round trip),
 * parsed only if someone looks: most writers never read it back.
 */
export function writtenRecord(w: CheckedWrite, version: number): StoreRecord {
  let value: unknown;
  let parsed = false;
  const record = {
    key: w.key,
    metadata: w.metadata,
    expiresAt: w.expiresAt,
    version,
  } as StoreRecord & { value: unknown };
  Object.defineProperty(record, 'value', {
    enumerable: true,
    get() {
      if (!parsed) {
        value = JSON.parse(w.json);
        parsed = true;
      }
      return value;
    },
  });
  return Object.freeze(record);
}

function checkCount(what: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw bad(`store ${what} must be a whole number >= 0, got ${JSON.stringify(v)}`, { [what]: v });
  }
  return v;
}

export interface Range {
  readonly limit: number | undefined;
  readonly offset: number;
}

export function checkRead(
  key: unknown,
  options: ReadOptions | undefined,
): { key: string; mode: 'exact' | 'prefix' | 'suffix'; range: Range } {
  const k = checkKey(key);
  if (options?.prefix && options?.suffix) throw bad('store read takes prefix or suffix, not both', { key: k });
  return {
    key: k,
    mode: options?.prefix ? 'prefix' : options?.suffix ? 'suffix' : 'exact',
    range: { limit: checkCount('limit', options?.limit), offset: checkCount('offset', options?.offset) ?? 0 },
  };
}

export function checkList(options: ListOptions | undefined): { prefix: string; suffix: string; range: Range } {
  const prefix = options?.prefix ?? '';
  const suffix = options?.suffix ?? '';
  if (prefix !== '') checkKey(prefix, 'prefix');
  if (suffix !== '') checkKey(suffix, 'suffix');
  return {
    prefix,
    suffix,
    range: { limit: checkCount('limit', options?.limit), offset: checkCount('offset', options?.offset) ?? 0 },
  };
}

export interface CheckedWrite {
  readonly key: string;
  /** The value as JSON text. */
  readonly json: string;
  readonly metadata: StoreMetadata;
  readonly expiresAt: Date | undefined;
  readonly ttlMs: number | undefined;
  readonly ifVersion: number | undefined;
  readonly fence: { name: string; token: bigint } | undefined;
}

/** Everything about a write that can be wrong, checked before any backend is touched: nothing is half-written. */
export function checkWrite(
  key: unknown,
  value: unknown,
  options: WriteOptions | undefined,
  maxValueBytes: number,
): CheckedWrite {
  const k = checkKey(key);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw bad(`store value for ${JSON.stringify(k)} cannot be serialised as JSON: ${(err as Error).message}`, {
      key: k,
    });
  }
  if (json === undefined) {
    throw bad(`store value for ${JSON.stringify(k)} cannot be serialised as JSON (${typeof value})`, { key: k });
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > maxValueBytes) {
    throw bad(`store value for ${JSON.stringify(k)} is ${bytes} bytes of JSON; the limit is ${maxValueBytes}`, {
      key: k,
    });
  }
  const metadata = checkMetadata(k, options?.metadata);
  let ttlMs: number | undefined;
  if (options?.ttlMs !== undefined) {
    const t = options.ttlMs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 10 * 365 * 86_400_000) {
      throw bad(`store ttlMs must be a whole number of ms from 1 to ten years, got ${JSON.stringify(t)}`, { key: k });
    }
    ttlMs = t;
  }
  const ifVersion = checkVersion(k, options?.ifVersion);
  return {
    key: k,
    json,
    metadata,
    ttlMs,
    expiresAt: ttlMs === undefined ? undefined : new Date(Date.now() + ttlMs),
    ifVersion,
    fence: options?.fence === undefined ? undefined : checkFence(options.fence),
  };
}

export function checkDelete(
  key: unknown,
  options: DeleteOptions | undefined,
): { key: string; ifVersion: number | undefined } {
  const k = checkKey(key);
  return { key: k, ifVersion: checkVersion(k, options?.ifVersion) };
}

function checkVersion(key: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw bad(`store ifVersion must be a whole number >= 0, got ${JSON.stringify(v)}`, { key });
  }
  return v;
}

/** The metadata of a record written without any: one shared frozen object. */
export const NO_METADATA: StoreMetadata = Object.freeze({});

function checkMetadata(key: string, m: unknown): StoreMetadata {
  if (m === undefined) return NO_METADATA;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad('store metadata must be an object', { key });
  const entries = Object.entries(m);
  if (entries.length > MAX_METADATA_ENTRIES)
    throw bad(`store metadata has more than ${MAX_METADATA_ENTRIES} entries`, { key });
  for (const [name, v] of entries) {
    const ok = typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!ok)
      throw bad(`store metadata ${JSON.stringify(name)} must be a string, a finite number or a boolean`, { key });
  }
  return Object.freeze({ ...(m as Record<string, string | number | boolean>) });
}

export function checkFence(f: Fence): { name: string; token: bigint } {
  if (typeof f !== 'object' || f === null || typeof f.name !== 'string' || f.name === '') {
    throw bad('store fence needs a lock name', { fence: f });
  }
  let token: bigint;
  try {
    token = BigInt(f.token);
  } catch {
    throw bad(`store fence token must be a whole number, got ${JSON.stringify(String(f.token))}`, { fence: f.name });
  }
  if (token < 0n || token >= 10n ** 20n) throw bad('store fence token must be from 0 to 10^20', { fence: f.name });
  return { name: checkKey(f.name, 'fence name'), token };
}

export function versionConflict(key: string, expected: number, actual: number | undefined) {
  return new VersionConflictError(
    `store record ${JSON.stringify(key)} is at version ${actual ?? 0} (0: none), not ${expected}: it changed since it was read`,
    { details: { key, expected, actual: actual ?? 0 } },
  );
}

export function fenced(key: string, fence: { name: string; token: bigint }, seen: bigint | string) {
  return new FencedError(
    `store write of ${JSON.stringify(key)} refused: lock ${JSON.stringify(fence.name)} token ${fence.token} is older than ${seen}, which the store has seen (the lock was lost)`,
    { details: { key, fence: fence.name, token: String(fence.token), seen: String(seen) } },
  );
}

export function closed(backend: string) {
  return new ClosedError(`the ${backend} store is closed`);
}

/** Key order of every backend: bytes of UTF-8 (PostgreSQL's "C" collation, etcd's byte order). */
export function byKey(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** `limit`/`offset` on a sorted list. */
export function page<T>(items: T[], range: Range): T[] {
  return items.slice(range.offset, range.limit === undefined ? undefined : range.offset + range.limit);
}

/** Fencing tokens as fixed-width text, so that comparing text compares numbers (etcd, Redis). */
export function padToken(token: bigint): string {
  return token.toString().padStart(20, '0');
}
