import type { PoolClient } from 'pg';

/**
 * The store's schema, one step per version, applied in order at start. Steps are never
 * edited once released: a change is a new step. A transaction-scoped advisory lock makes
 * concurrent starters (several replicas of a service) apply each step once.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS switchyard_store (
     database   text NOT NULL,
     tbl        text NOT NULL,
     key        text COLLATE "C" NOT NULL,
     value      jsonb NOT NULL,
     metadata   jsonb NOT NULL DEFAULT '{}',
     version    bigint NOT NULL,
     expires_at timestamptz,
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (database, tbl, key)
   );
   CREATE INDEX IF NOT EXISTS switchyard_store_expiry ON switchyard_store (expires_at) WHERE expires_at IS NOT NULL;
   CREATE TABLE IF NOT EXISTS switchyard_store_fences (
     database text NOT NULL,
     name     text NOT NULL,
     token    numeric(20) NOT NULL,
     PRIMARY KEY (database, name)
   );`,
];

/** Any 64-bit number of our own: the advisory lock that serialises migrations. */
const MIGRATION_LOCK = 0x5357_5944_5354_4f52n; // "SWYDSTOR"

export async function migrate(client: PoolClient): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [String(BigInt.asIntN(64, MIGRATION_LOCK))]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS switchyard_store_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM switchyard_store_migrations',
    );
    const done = rows[0]?.v ?? 0;
    for (let v = done + 1; v <= MIGRATIONS.length; v++) {
      await client.query(MIGRATIONS[v - 1]!);
      await client.query('INSERT INTO switchyard_store_migrations (version) VALUES ($1)', [v]);
    }
    await client.query('COMMIT');
    return MIGRATIONS.length - done;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
