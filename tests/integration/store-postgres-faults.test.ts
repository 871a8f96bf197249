/**
 * The PostgreSQL store when its connections die: killed with pg_terminate_backend (only
 * this file's, found by application_name) in the middle of a burst of writes, calls fail
 * with UNAVAILABLE and never anything else, and the same store serves again at once on
 * new connections without a restart. A server that does not answer fails start() and
 * calls with UNAVAILABLE within the connect timeout, not a hang.
 */
import { randomBytes } from 'node:crypto';
import { PostgresStore } from '@switchyard/sdk';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../harness/ports.js';

const url = inject('postgresUrl');
const app = `sytest-store-${randomBytes(4).toString('hex')}`;
const database = `tfault${randomBytes(4).toString('hex')}`;
let store: PostgresStore;
let admin: pg.Client;

async function backends(): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
    app,
  ]);
  return rows.map((r) => r.pid);
}

beforeAll(async () => {
  admin = new pg.Client(url);
  await admin.connect();
  store = new PostgresStore({ url, database, applicationName: app, poolSize: 8 });
  await store.start();
});

afterAll(async () => {
  await store.close();
  await admin.query('DELETE FROM switchyard_store WHERE database = $1', [database]);
  await admin.end();
});

describe('PostgreSQL store faults', () => {
  it('connections killed mid-burst: failures are UNAVAILABLE, then the store serves on new connections', async () => {
    await Promise.all(Array.from({ length: 16 }, (_, i) => store.write(`warm-${i}`, i)));
    const before = await backends();
    expect(before.length).toBeGreaterThan(0);

    const outcomes: string[] = [];
    const burst = Array.from({ length: 1000 }, (_, i) =>
      store.write(`k-${i % 50}`, i).then(
        () => outcomes.push('ok'),
        (err: { code?: string }) => outcomes.push(err.code ?? 'no code'),
      ),
    );
    // Kill while the burst is running.
    await new Promise((r) => setTimeout(r, 5));
    const { rows } = await admin.query<{ killed: boolean }>(
      'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    expect(rows.length).toBeGreaterThan(0);
    const doneAtKill = outcomes.length;
    expect(doneAtKill, 'the kill must land while the burst runs').toBeLessThan(1000);
    await Promise.all(burst);

    expect(outcomes).toHaveLength(1000);
    const failed = outcomes.filter((o) => o !== 'ok');
    // Writes in flight on a killed connection fail, and only with UNAVAILABLE.
    expect(failed.length).toBeGreaterThan(0);
    expect(new Set(failed)).toEqual(new Set(['UNAVAILABLE']));
    console.log(`store faults: ${failed.length} of 1000 writes failed UNAVAILABLE (${doneAtKill} done at the kill)`);

    // The same store, no restart: every call works, on other backends.
    const after = await Promise.all(Array.from({ length: 20 }, (_, i) => store.write(`after-${i}`, i)));
    expect(after.every((r) => r.version >= 1)).toBe(true);
    expect((await store.read('after-', { prefix: true })).length).toBe(20);
    const now = await backends();
    expect(now.some((pid) => before.includes(pid))).toBe(false);
  });

  it('a server that does not answer: start() and calls fail UNAVAILABLE within the connect timeout', async () => {
    const port = await freePort();
    const dead = new PostgresStore({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, connectTimeoutMs: 1000 });
    const t0 = Date.now();
    await expect(dead.start()).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/PostgreSQL is unavailable/),
    });
    await expect(dead.read('k')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(Date.now() - t0).toBeLessThan(5000);
    await dead.close();
  });
});
