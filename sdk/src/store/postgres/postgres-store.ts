import {
  InternalError,
  InvalidOptionsError,
  isSwitchyardError,
  type SwitchyardError,
  UnavailableError,
} from '@switchyard/broker';
import pg from 'pg';
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
  type CheckedWrite,
  checkDelete,
  checkList,
  checkRead,
  checkWrite,
  closed,
  DEFAULT_MAX_VALUE_BYTES,
  fenced,
  page,
  type Scope,
  scopeOf,
  versionConflict,
  writtenRecord,
} from '../store-checks.js';
import { migrate } from './postgres-migrations.js';

export interface PostgresStoreOptions {
  /** `postgres://user@host:5432/db`. Required. */
  url: string;
  /** Default database (the `database` column, not PostgreSQL's). Default `switchyard`. */
  database?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** Time to get a connection before a call fails UNAVAILABLE, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Expired rows are deleted this often, ms. Default 60000; 0: never (they are never read either). */
  sweepIntervalMs?: number;
  maxValueBytes?: number;
  /** `application_name` of the connections (pg_stat_activity). Default `switchyard-store`. */
  applicationName?: string;
  /** TLS (PEM contents) for the connection; `sslmode` in the URL works too. */
  tls?: { ca?: string; cert?: string; key?: string };
  logger?: Logger;
}

interface Row {
  key: string;
  value: unknown;
  metadata: StoreMetadata;
  version: string;
  expires_at: Date | null;
}

const LIVE = '(expires_at IS NULL OR expires_at > now())';
const COLUMNS = 'key, value, metadata, version, expires_at';
// An expired row counts as absent: its version reads 0 and the next write starts at 1.
const EFFECTIVE_VERSION = 'CASE WHEN s.expires_at IS NOT NULL AND s.expires_at <= now() THEN 0 ELSE s.version END';

/** Named (prepared) statements: parsed and planned once per connection. */
const SQL = {
  readExact: `SELECT ${COLUMNS} FROM switchyard_store WHERE database = $1 AND tbl = $2 AND key = $3 AND ${LIVE}`,
  readLike: `SELECT ${COLUMNS} FROM switchyard_store WHERE database = $1 AND tbl = $2 AND key LIKE $3 ESCAPE '\\' AND ${LIVE} ORDER BY key LIMIT $4 OFFSET $5`,
  list: `SELECT key FROM switchyard_store WHERE database = $1 AND tbl = $2 AND key LIKE $3 ESCAPE '\\' AND key LIKE $4 ESCAPE '\\' AND ${LIVE} ORDER BY key LIMIT $5 OFFSET $6`,
  upsert: `INSERT INTO switchyard_store AS s (database, tbl, key, value, metadata, version, expires_at)
    VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, 1, $6)
    ON CONFLICT (database, tbl, key) DO UPDATE SET value = EXCLUDED.value, metadata = EXCLUDED.metadata,
      expires_at = EXCLUDED.expires_at, updated_at = now(), version = ${EFFECTIVE_VERSION} + 1
    RETURNING version`,
  insertIfAbsent: `INSERT INTO switchyard_store AS s (database, tbl, key, value, metadata, version, expires_at)
    VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, 1, $6)
    ON CONFLICT (database, tbl, key) DO UPDATE SET value = EXCLUDED.value, metadata = EXCLUDED.metadata,
      expires_at = EXCLUDED.expires_at, updated_at = now(), version = 1
    WHERE s.expires_at IS NOT NULL AND s.expires_at <= now()
    RETURNING version`,
  updateIfVersion: `UPDATE switchyard_store AS s SET value = $4::jsonb, metadata = $5::jsonb, expires_at = $6,
      updated_at = now(), version = s.version + 1
    WHERE database = $1 AND tbl = $2 AND key = $3 AND ${EFFECTIVE_VERSION} = $7
    RETURNING version`,
  currentVersion: `SELECT ${EFFECTIVE_VERSION.replaceAll('s.', '')} AS version FROM switchyard_store WHERE database = $1 AND tbl = $2 AND key = $3`,
  fence: `INSERT INTO switchyard_store_fences AS f (database, name, token) VALUES ($1, $2, $3)
    ON CONFLICT (database, name) DO UPDATE SET token = EXCLUDED.token WHERE f.token <= EXCLUDED.token
    RETURNING token`,
  fenceSeen: 'SELECT token FROM switchyard_store_fences WHERE database = $1 AND name = $2',
  delete: `DELETE FROM switchyard_store AS s WHERE database = $1 AND tbl = $2 AND key = $3 RETURNING ${EFFECTIVE_VERSION} AS version`,
  deleteIfVersion: `DELETE FROM switchyard_store AS s WHERE database = $1 AND tbl = $2 AND key = $3 AND ${EFFECTIVE_VERSION} = $4 RETURNING 1`,
  sweep: 'DELETE FROM switchyard_store WHERE expires_at <= now()',
} as const;

/**
 * The store on PostgreSQL (`pg`): one JSONB table keyed by (database, table, key), created
 * by the migrations at start. TTLs are honoured on every read and expired rows swept.
 * Compare-and-set and fenced writes are single statements or one transaction, so a lost
 * race never writes. Connection failures (server down, restarted, backends killed) fail
 * calls with UNAVAILABLE; the pool reconnects on the next call.
 */
export class PostgresStore implements Store {
  readonly backend = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #o: Required<Pick<PostgresStoreOptions, 'database' | 'sweepIntervalMs' | 'maxValueBytes'>> & {
    logger: Logger | undefined;
  };
  #sweep: NodeJS.Timeout | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: PostgresStoreOptions) {
    const bad = (option: string, problem: string) =>
      new InvalidOptionsError(`PostgresStore option "${option}" ${problem}`, { details: { option } });
    if (typeof options?.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url)) {
      throw bad('url', 'must be a postgres:// or postgresql:// URL');
    }
    const poolSize = options.poolSize ?? 10;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) throw bad('poolSize', 'must be 1-1000');
    this.#o = {
      database: scopeOf({ database: options.database ?? 'switchyard' }, 'switchyard').database,
      sweepIntervalMs: options.sweepIntervalMs ?? 60_000,
      maxValueBytes: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
      logger: options.logger,
    };
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      application_name: options.applicationName ?? 'switchyard-store',
      ...(options.tls ? { ssl: { ...options.tls } } : {}),
    });
    // An idle connection killed by the server (restart, pg_terminate_backend) is reported
    // here; the pool drops it and the next call opens another.
    this.#pool.on('error', (err) =>
      this.#o.logger?.warn({ err: err.message }, 'store: idle PostgreSQL connection lost'),
    );
  }

  start(): Promise<void> {
    this.#starting ??= (async () => {
      const client = await this.#pool.connect().catch((err: unknown) => {
        throw mapError(err, 'connecting');
      });
      try {
        const applied = await migrate(client);
        if (applied > 0) this.#o.logger?.info({ applied }, 'store: PostgreSQL migrations applied');
      } catch (err) {
        throw mapError(err, 'migrating');
      } finally {
        client.release();
      }
      if (this.#o.sweepIntervalMs > 0) {
        this.#sweep = setInterval(() => {
          this.#pool
            .query(SQL.sweep)
            .catch((err: Error) => this.#o.logger?.warn({ err: err.message }, 'store: sweep failed'));
        }, this.#o.sweepIntervalMs);
        this.#sweep.unref();
      }
    })();
    return this.#starting;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweep);
      await this.#pool.end();
    })();
    return this.#closing;
  }

  async #query<R extends pg.QueryResultRow>(name: keyof typeof SQL, values: unknown[], client?: pg.PoolClient) {
    if (this.#closing) throw closed('postgres');
    try {
      return await (client ?? this.#pool).query<R>({ name: `sy_store_${name}`, text: SQL[name], values });
    } catch (err) {
      throw mapError(err, name);
    }
  }

  async read(key: string, options?: ReadOptions): Promise<StoreRecord[]> {
    const q = checkRead(key, options);
    const s = scopeOf(options, this.#o.database);
    if (q.mode === 'exact') {
      const { rows } = await this.#query<Row>('readExact', [s.database, s.table, q.key]);
      return page(rows, q.range).map(record);
    }
    const pattern = q.mode === 'prefix' ? `${escapeLike(q.key)}%` : `%${escapeLike(q.key)}`;
    const { rows } = await this.#query<Row>('readLike', [
      s.database,
      s.table,
      pattern,
      q.range.limit ?? null,
      q.range.offset,
    ]);
    return rows.map(record);
  }

  async write(key: string, value: unknown, options?: WriteOptions): Promise<StoreRecord> {
    const w = checkWrite(key, value, options, this.#o.maxValueBytes);
    const s = scopeOf(options, this.#o.database);
    if (!w.fence) return this.#write(s, w);
    // The fence row is locked until commit: fenced writers of one lock go one at a time.
    const client = await this.#pool.connect().catch((err: unknown) => {
      throw mapError(err, 'connecting');
    });
    let broken = false;
    try {
      await client.query('BEGIN');
      const f = await this.#query<{ token: string }>(
        'fence',
        [s.database, w.fence.name, w.fence.token.toString()],
        client,
      );
      if (f.rowCount === 0) {
        const seen = await this.#query<{ token: string }>('fenceSeen', [s.database, w.fence.name], client);
        throw fenced(w.key, w.fence, seen.rows[0]?.token ?? '?');
      }
      const r = await this.#write(s, w, client);
      await client.query('COMMIT');
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw mapError(err, 'write');
    } finally {
      client.release(broken);
    }
  }

  async #write(s: Scope, w: CheckedWrite, client?: pg.PoolClient): Promise<StoreRecord> {
    const base = [s.database, s.table, w.key, w.json, JSON.stringify(w.metadata), w.expiresAt ?? null];
    const r =
      w.ifVersion === undefined
        ? await this.#query<{ version: string }>('upsert', base, client)
        : w.ifVersion === 0
          ? await this.#query<{ version: string }>('insertIfAbsent', base, client)
          : await this.#query<{ version: string }>('updateIfVersion', [...base, w.ifVersion], client);
    if (r.rowCount === 0) {
      const current = await this.#query<{ version: string }>('currentVersion', [s.database, s.table, w.key], client);
      const v = current.rows[0]?.version;
      throw versionConflict(w.key, w.ifVersion!, v === undefined ? 0 : Number(v));
    }
    return writtenRecord(w, Number(r.rows[0]!.version));
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    const d = checkDelete(key, options);
    const s = scopeOf(options, this.#o.database);
    if (d.ifVersion === undefined) {
      const r = await this.#query<{ version: string }>('delete', [s.database, s.table, d.key]);
      // An expired row is deleted too, but it was not there to the caller.
      return r.rowCount !== 0 && Number(r.rows[0]!.version) > 0;
    }
    const r = await this.#query('deleteIfVersion', [s.database, s.table, d.key, d.ifVersion]);
    if (r.rowCount === 0) {
      if (d.ifVersion === 0) return false;
      const current = await this.#query<{ version: string }>('currentVersion', [s.database, s.table, d.key]);
      const v = current.rows[0]?.version;
      throw versionConflict(d.key, d.ifVersion, v === undefined ? 0 : Number(v));
    }
    return d.ifVersion > 0;
  }

  async list(options?: ListOptions): Promise<string[]> {
    const q = checkList(options);
    const s = scopeOf(options, this.#o.database);
    const { rows } = await this.#query<{ key: string }>('list', [
      s.database,
      s.table,
      `${escapeLike(q.prefix)}%`,
      `%${escapeLike(q.suffix)}`,
      q.range.limit ?? null,
      q.range.offset,
    ]);
    return rows.map((r) => r.key);
  }
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function record(row: Row): StoreRecord {
  return Object.freeze({
    key: row.key,
    value: row.value,
    metadata: row.metadata,
    expiresAt: row.expires_at ?? undefined,
    version: Number(row.version),
  });
}

/** Connection classes (08), shutdowns and "cannot connect now" (57P0x), and socket errors. */
function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  }
  const message = (err as Error | null)?.message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(
    message,
  );
}

function mapError(err: unknown, during: string): SwitchyardError | unknown {
  if (isSwitchyardError(err)) return err;
  if (isUnavailable(err)) {
    return new UnavailableError(`PostgreSQL is unavailable (${(err as Error).message})`, {
      cause: err,
      details: { backend: 'postgres', during },
    });
  }
  return new InternalError(`PostgreSQL refused the store's ${during}: ${(err as Error).message}`, {
    cause: err,
    details: { backend: 'postgres', during, pgCode: (err as { code?: unknown }).code },
  });
}
