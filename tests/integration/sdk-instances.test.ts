/**
 * Two instances of one service in two processes, on the real etcd and RabbitMQ: calls
 * spread over both; one closed gracefully (SIGTERM) under load fails no call; one killed
 * (SIGKILL) under load fails at most the calls it had in flight — none for an idempotent
 * method, whose requests are handed to the surviving instance and run there.
 */
import { rmSync } from 'node:fs';
import { createInfrastructure, createService, type Infrastructure, type Service } from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type FixtureProcess, startFixtureProcess } from '../fixtures/sdk-process.js';
import { writeSdkSchemas } from '../fixtures/sdk-schemas.js';
import { uniqueNamespace } from '../harness/servers.js';

const SERVICE = 'sdk-worker';
const namespace = uniqueNamespace('sdk-instances');
let schemasDir: string;
let env: Record<string, string>;
let infra: Infrastructure;
let caller: Service;
const workers = new Map<string, FixtureProcess>();

interface LoadResult {
  ok: number;
  failed: number;
  byInstance: Record<string, number>;
  failures: Record<string, number>;
}

/** `total` calls with `concurrency` in flight; `onProgress(done)` lets a test act mid-load. */
async function load(
  method: string,
  total: number,
  concurrency: number,
  sleepMs: number,
  onProgress?: (done: number) => void,
): Promise<LoadResult> {
  const r: LoadResult = { ok: 0, failed: 0, byInstance: {}, failures: {} };
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < total) {
      const n = next++;
      try {
        const reply = await caller.call<{ n: number; instance: string }>(`${SERVICE}.${method}`, { n, sleepMs });
        expect(reply.n).toBe(n);
        r.ok++;
        r.byInstance[reply.instance] = (r.byInstance[reply.instance] ?? 0) + 1;
      } catch (err) {
        r.failed++;
        const key = `${(err as { code?: string }).code}:${(err as { details?: { reason?: string } }).details?.reason ?? '-'}`;
        r.failures[key] = (r.failures[key] ?? 0) + 1;
      }
      onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return r;
}

async function startWorker(id: string): Promise<FixtureProcess> {
  const w = await startFixtureProcess('./sdk-worker.ts', { ...env, SDK_INSTANCE: id });
  workers.set(id, w);
  return w;
}

async function waitForInstances(ids: string[]): Promise<void> {
  const view = infra.registry.view();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const live = view.instances(SERVICE).map((i) => i.id);
    if (ids.every((id) => live.includes(id))) return;
    if (Date.now() > deadline) throw new Error(`instances ${ids} not registered; registry has ${live}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  schemasDir = writeSdkSchemas();
  env = {
    SWITCHYARD_ETCD: inject('etcdEndpoint'),
    SWITCHYARD_AMQP: inject('amqpUrl'),
    SWITCHYARD_NAMESPACE: namespace,
    SWITCHYARD_SCHEMAS: schemasDir,
  };
  infra = await createInfrastructure({ env, logger: pino({ level: 'silent' }) });
  caller = createService({ name: 'sdk-caller', version: '1.0.0', infra });
  await caller.start();
  await Promise.all([startWorker('w1'), startWorker('w2')]);
  await waitForInstances(['w1', 'w2']);
}, 60_000);

afterAll(async () => {
  for (const w of workers.values()) w.kill('SIGKILL');
  await caller?.close();
  await infra?.close();
  rmSync(schemasDir, { recursive: true, force: true });
});

describe('two instances of a service', () => {
  it('spread calls over both instances', async () => {
    const r = await load('work', 300, 16, 2);
    console.log(`spread: ${r.ok} ok, ${r.failed} failed, by instance ${JSON.stringify(r.byInstance)}`);
    expect(r.failed).toBe(0);
    expect(r.byInstance.w1).toBeGreaterThan(0);
    expect(r.byInstance.w2).toBeGreaterThan(0);
  });

  it('lose no call when one instance is closed gracefully (SIGTERM) mid-load, even for a non-idempotent method', async () => {
    const w1 = workers.get('w1')!;
    let signalled = false;
    const r = await load('record', 400, 16, 20, (done) => {
      if (done === 100 && !signalled) {
        signalled = true;
        w1.kill('SIGTERM');
      }
    });
    const exit = await w1.exited;
    console.log(
      `SIGTERM mid-load: ${r.ok} ok, ${r.failed} failed ${JSON.stringify(r.failures)}, by instance ${JSON.stringify(r.byInstance)}, w1 exit code ${exit.code}`,
    );
    expect(signalled).toBe(true);
    expect(r.failed).toBe(0);
    expect(r.ok).toBe(400);
    expect(exit.code).toBe(0);
    expect(r.byInstance.w2).toBeGreaterThan(0);
    // Deregistered on the way out, not left to expire.
    expect(
      infra.registry
        .view()
        .instances(SERVICE)
        .map((i) => i.id),
    ).not.toContain('w1');
    workers.delete('w1');
  }, 60_000);

  it('fail no call of an idempotent method when an instance is killed (SIGKILL) mid-load', async () => {
    await startWorker('w3');
    await waitForInstances(['w2', 'w3']);
    const w2 = workers.get('w2')!;
    let killed = false;
    const r = await load('work', 300, 16, 40, (done) => {
      if (done === 60 && !killed) {
        killed = true;
        w2.kill('SIGKILL');
      }
    });
    await w2.exited;
    workers.delete('w2');
    console.log(
      `SIGKILL mid-load (idempotent): ${r.ok} ok, ${r.failed} failed ${JSON.stringify(r.failures)}, by instance ${JSON.stringify(r.byInstance)}`,
    );
    expect(killed).toBe(true);
    expect(r.failed).toBe(0);
    expect(r.byInstance.w3).toBeGreaterThan(0);
  }, 60_000);

  it('fail at most the in-flight calls of a non-idempotent method when an instance is killed (SIGKILL)', async () => {
    await startWorker('w4');
    await waitForInstances(['w3', 'w4']);
    const victim = workers.get('w3')!;
    const concurrency = 16;
    let killed = false;
    const r = await load('record', 300, concurrency, 40, (done) => {
      if (done === 60 && !killed) {
        killed = true;
        victim.kill('SIGKILL');
      }
    });
    await victim.exited;
    workers.delete('w3');
    console.log(
      `SIGKILL mid-load (not idempotent): ${r.ok} ok, ${r.failed} failed ${JSON.stringify(r.failures)}, by instance ${JSON.stringify(r.byInstance)} (at most ${concurrency} in flight)`,
    );
    expect(killed).toBe(true);
    expect(r.ok + r.failed).toBe(300);
    // Only calls the dead instance had started can fail, and only as "interrupted, not re-run".
    expect(r.failed).toBeLessThanOrEqual(concurrency);
    for (const key of Object.keys(r.failures)) expect(key).toBe('UNAVAILABLE:redelivered');
    expect(r.byInstance.w4).toBeGreaterThan(0);
  }, 60_000);
});
