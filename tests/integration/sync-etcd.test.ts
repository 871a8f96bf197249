/**
 * Locks and elections on etcd: the Sync contract on the run's etcd, and the faults on it
 * with real processes. A lock holder SIGKILLed: another process gets the lock after the
 * lease TTL, with a greater fence. Two processes racing for one lock 500 times each never
 * both hold it: every increment of a shared counter, written with compare-and-set and the
 * lock's fence, succeeds (no conflict, nothing fenced) and the count is exact. The elected
 * leader SIGKILLed: a new leader within TTL + 1 s. A holder whose lease is revoked (what a
 * partition leads to) is told, and its stale fence is refused by the store.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createEtcdClient, EtcdStore, EtcdSync } from '@switchyard/sdk';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runSyncContract } from '../contract/sync.contract.js';
import { uniqueNamespace } from '../harness/servers.js';

const endpoint = inject('etcdEndpoint');
const WORKER = fileURLToPath(new URL('../fixtures/sync-worker.ts', import.meta.url));
const children: ChildProcess[] = [];

runSyncContract('etcd', async () => {
  const namespace = uniqueNamespace('sync');
  const a = new EtcdSync({ endpoints: [endpoint], namespace });
  const b = new EtcdSync({ endpoints: [endpoint], namespace });
  return {
    a,
    b,
    cleanup: async () => {
      await a.close();
      await b.close();
    },
  };
});

/** Start a worker; resolves with it and the first line it prints (`HELD 12`, ...). */
function worker(env: Record<string, string>): { child: ChildProcess; line: Promise<string> } {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', WORKER], {
    env: { ...process.env, SYNC_ETCD: endpoint, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before printing`)));
  });
  line.catch(() => {});
  return { child, line };
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('sync faults on etcd (real processes)', () => {
  it('a holder SIGKILLed loses the lock after its TTL; the next holder has a greater fence', async () => {
    const namespace = uniqueNamespace('sync-kill');
    const { child, line } = worker({ SYNC_MODE: 'hold', SYNC_NAMESPACE: namespace, SYNC_NAME: 'jobs', SYNC_TTL: '2' });
    const fence = BigInt((await line).split(' ')[1]!);
    const sync = new EtcdSync({ endpoints: [endpoint], namespace });
    try {
      await expect(sync.lock('jobs', { waitMs: 0 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      const t0 = Date.now();
      await kill9(child);
      const lock = await sync.lock('jobs', { waitMs: 10_000 });
      const waited = Date.now() - t0;
      console.log(`sync: lock taken ${waited} ms after its holder was SIGKILLed (TTL 2 s)`);
      expect(lock.fence).toBeGreaterThan(fence);
      expect(waited).toBeLessThan(2_000 + 3_000); // TTL plus etcd's lease expiry granularity
      await lock.unlock();
    } finally {
      await sync.close();
    }
  }, 30_000);

  it('two processes racing for one lock 500 times each never both hold it', async () => {
    const namespace = uniqueNamespace('sync-race');
    const env = { SYNC_MODE: 'race', SYNC_NAMESPACE: namespace, SYNC_NAME: 'counter', SYNC_ROUNDS: '500' };
    const t0 = Date.now();
    const results = await Promise.all([worker(env).line, worker(env).line]);
    console.log(`sync: 2 x 500 lock rounds in ${Date.now() - t0} ms: ${results.join(' | ')}`);
    for (const r of results) expect(r).toBe('DONE 500 0 0');
    const store = new EtcdStore({ endpoints: [endpoint], namespace });
    try {
      expect((await store.read('counter'))[0]).toMatchObject({ value: 1000, version: 1000 });
    } finally {
      await store.close();
    }
  }, 180_000);

  it('the leader SIGKILLed: a new leader within TTL + 1 s', async () => {
    const namespace = uniqueNamespace('sync-lead');
    const { child, line } = worker({
      SYNC_MODE: 'lead',
      SYNC_NAMESPACE: namespace,
      SYNC_NAME: 'scheduler',
      SYNC_TTL: '2',
    });
    const fence = BigInt((await line).split(' ')[1]!);
    const sync = new EtcdSync({ endpoints: [endpoint], namespace });
    try {
      expect(await sync.leader('scheduler')).toBe('child');
      const next = sync.campaign('scheduler', { value: 'parent', ttlSec: 2 });
      const t0 = Date.now();
      await kill9(child);
      const leader = await next;
      const took = Date.now() - t0;
      console.log(`sync: new leader ${took} ms after the old one was SIGKILLed (TTL 2 s)`);
      expect(took).toBeLessThan(2_000 + 1_000 + 1_000); // TTL + 1 s, plus etcd's minimum lease TTL slack
      expect(leader.fence).toBeGreaterThan(fence);
      expect(await sync.leader('scheduler')).toBe('parent');
      await leader.resign();
    } finally {
      await sync.close();
    }
  }, 30_000);

  it('a holder whose lease is revoked is told (onLost), and its stale fence is refused', async () => {
    const namespace = uniqueNamespace('sync-lost');
    const a = new EtcdSync({ endpoints: [endpoint], namespace });
    const b = new EtcdSync({ endpoints: [endpoint], namespace });
    const store = new EtcdStore({ endpoints: [endpoint], namespace });
    const etcd = createEtcdClient(endpoint);
    try {
      const old = await a.lock('report', { ttlSec: 5 });
      await store.write('report', 'old holder', { fence: { name: 'report', token: old.fence } });
      const lost = new Promise<Error>((resolve) => old.onLost(resolve));
      // What a partition ends in: the lease is gone on etcd's side.
      const kv = await etcd.get(`/${namespace}/locks/report`).exec();
      await etcd
        .lease(1, { autoKeepAlive: false })
        .revoke()
        .catch(() => {});
      await etcd.leaseClient.leaseRevoke({ ID: kv.kvs[0]!.lease });
      expect((await lost).message).toMatch(/lock report/);
      expect(old.lost).toBe(true);
      const next = await b.lock('report', { waitMs: 5_000 });
      expect(next.fence).toBeGreaterThan(old.fence);
      await store.write('report', 'new holder', { fence: { name: 'report', token: next.fence } });
      await expect(
        store.write('report', 'stale write', { fence: { name: 'report', token: old.fence } }),
      ).rejects.toMatchObject({ code: 'FENCED' });
      expect((await store.read('report'))[0]!.value).toBe('new holder');
      await next.unlock();
    } finally {
      await a.close();
      await b.close();
      await store.close();
      etcd.close();
    }
  }, 30_000);
});
