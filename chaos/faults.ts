/**
 * The faults of a chaos run, in the order they are injected: each takes one part of the
 * stack away (SIGKILL, nothing graceful), keeps it away for `downMs`, and brings it back.
 * The window of a fault runs from the kill to `settleMs` after the part is back.
 */
import { Redis } from 'ioredis';
import type { HttpLoad } from './load.js';
import type { Stack } from './stack.js';

/** Requests of each kind sent at once just before the instance is killed, so some are in flight on it. */
const BURST = 20;

export interface Fault {
  name: string;
  /** What the recovery is measured from: the kill (an instance: the others should take over at once) or the return. */
  recoverFrom: 'kill' | 'back';
  downMs: number;
  inject(stack: Stack, load: HttpLoad): Promise<void>;
  /** Brings the part back; resolves once it accepts connections. */
  restore(stack: Stack): Promise<void>;
  /** After `restore`: resolves when the part is in use again (Redis: counters written), with a label. */
  inUse?(stack: Stack, until: number): Promise<string>;
}

export const FAULTS: readonly Fault[] = [
  {
    name: 'catalog instance SIGKILL',
    recoverFrom: 'kill',
    downMs: 10_000,
    inject: async (s, load) => {
      load.burst(BURST);
      // The catalog answers in 50 ms: kill it while about half the burst is being handled there.
      await new Promise((r) => setTimeout(r, 20));
      await s.killCatalog(0);
    },
    restore: (s) => s.startCatalog(0),
  },
  {
    name: 'RabbitMQ SIGKILL',
    recoverFrom: 'back',
    // Plus its boot (3-14 s here). Longer outages: CHAOS_BROKER_DOWN_MS (the clients' backoff then reaches its cap).
    downMs: Number(process.env.CHAOS_BROKER_DOWN_MS ?? 5_000),
    inject: (s) => s.rabbit!.kill(),
    restore: (s) => s.rabbit!.resume(),
  },
  {
    name: 'etcd SIGKILL',
    recoverFrom: 'back',
    downMs: 10_000,
    inject: (s) => s.etcd!.kill(),
    restore: (s) => s.etcd!.resume(),
  },
  {
    name: 'Redis SIGKILL',
    recoverFrom: 'back',
    downMs: 10_000,
    inject: (s) => s.redis.kill(),
    restore: (s) => s.redis.start(),
    inUse: rateLimitKeysBack,
  },
];

/** Redis restarts empty: the first rate-limit counter in it means the gateway counts there again. */
async function rateLimitKeysBack(stack: Stack, until: number): Promise<string> {
  const began = Date.now();
  const redis = new Redis(stack.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    while (Date.now() < until) {
      const [, keys] = await redis.scan('0', 'MATCH', 'switchyard:rl:*', 'COUNT', 100);
      if (keys.length > 0) return `rate limits counted in Redis again after ${Date.now() - began} ms`;
      await new Promise((r) => setTimeout(r, 50));
    }
    return 'rate limits NOT counted in Redis again within the window';
  } finally {
    redis.disconnect();
  }
}
