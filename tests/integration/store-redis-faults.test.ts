/**
 * The Redis store when Redis hangs or dies, on a private redis-server: frozen (SIGSTOP),
 * calls fail with UNAVAILABLE within the store's timeout instead of hanging, and the same
 * store serves again when it thaws; killed, calls fail UNAVAILABLE at once, and after a
 * restart on the same port the store writes and reads again without being restarted.
 */
import { RedisStore } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedis } from '../harness/private-redis.js';

const redis = new PrivateRedis();
let store: RedisStore;
const TIMEOUT_MS = 500;

async function eventually<T>(work: () => Promise<T>, timeoutMs: number): Promise<T> {
  const t = performance.now();
  for (;;) {
    try {
      return await work();
    } catch (err) {
      if (performance.now() - t > timeoutMs) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

beforeAll(async () => {
  await redis.start();
  store = new RedisStore({ url: redis.url, commandTimeoutMs: TIMEOUT_MS });
  await store.start();
});

afterAll(async () => {
  await store.close();
  await redis.kill();
});

describe('Redis store faults (private redis-server)', () => {
  it('frozen: reads and writes fail UNAVAILABLE within the timeout; thawed, the same store serves', async () => {
    await store.write('order-1', { qty: 1 });
    redis.freeze();
    try {
      const t = performance.now();
      const outcomes = await Promise.allSettled([
        store.read('order-1'),
        store.write('order-2', { qty: 2 }),
        store.write('order-1', { qty: 3 }, { ifVersion: 1 }),
      ]);
      const ms = performance.now() - t;
      console.log(`3 calls against a frozen Redis (timeout ${TIMEOUT_MS} ms) failed after ${ms.toFixed(0)} ms`);
      for (const o of outcomes) {
        expect(o.status).toBe('rejected');
        expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'UNAVAILABLE' });
      }
      // A deadline, not a speed target: a hang would wait for the test's own timeout.
      expect(ms).toBeLessThan(TIMEOUT_MS + 4_000);
    } finally {
      redis.thaw();
    }
    // A call that failed so has an unknown outcome: the frozen server may still run the
    // commands it had read when it thaws. The record is one of the two states, never torn.
    const [r] = await eventually(() => store.read('order-1'), 10_000);
    expect([JSON.stringify([{ qty: 1 }, 1]), JSON.stringify([{ qty: 3 }, 2])]).toContain(
      JSON.stringify([r!.value, r!.version]),
    );
  });

  it('killed: calls fail UNAVAILABLE; restarted on the same port, the store writes and reads again', async () => {
    await redis.kill();
    await expect(store.read('order-1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(store.write('order-1', 1)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await redis.start();
    // The private server keeps nothing on disk: the record starts over at version 1.
    const w = await eventually(() => store.write('order-1', { qty: 9 }), 10_000);
    expect(w.version).toBe(1);
    expect((await store.read('order-1'))[0]).toMatchObject({ value: { qty: 9 }, version: 1 });
  });
});
