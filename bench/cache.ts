/**
 * `npm run bench -- cache`: the cost of a hit in the in-process cache, against a bare Map
 * (the floor) and lru-cache used directly. A hit must cost <= 1 µs (target on
 * `getOrLoad`, the call services make). Best of rounds, ns per hit.
 */
import { MemoryCache } from '@switchyard/sdk';
import { LRUCache } from 'lru-cache';
import { envInt } from './lib/config.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';

const KEYS = 1000;

async function timeAsync(ops: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) await op(i);
  return Number(process.hrtime.bigint() - t0) / ops;
}

function timeSync(ops: number, op: (i: number) => unknown): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) if (op(i) !== undefined) sink++;
  const ns = Number(process.hrtime.bigint() - t0) / ops;
  if (sink !== ops) throw new Error(`expected ${ops} hits, got ${sink}`);
  return ns;
}

export async function runCache(): Promise<SuiteReport> {
  const params = { rounds: envInt('BENCH_ROUNDS', 5), ops: envInt('BENCH_CACHE_OPS', 1_000_000), keys: KEYS };
  const keys = Array.from({ length: KEYS }, (_, i) => `product:${i}`);
  const value = { sku: 'MUG-BLUE-350', price: 1250 };
  const map = new Map(keys.map((k) => [k, value]));
  const lru = new LRUCache<string, object>({ max: 10_000, ttl: 60_000 });
  const cache = new MemoryCache({ maxEntries: 10_000, ttlMs: 60_000 });
  for (const k of keys) {
    lru.set(k, value);
    cache.put(k, value);
  }
  const loader = () => value;
  const variants: Record<string, () => Promise<number> | number> = {
    'Map.get (floor)': () => timeSync(params.ops, (i) => map.get(keys[i % KEYS]!)),
    'lru-cache get': () => timeSync(params.ops, (i) => lru.get(keys[i % KEYS]!)),
    'MemoryCache.peek': () => timeSync(params.ops, (i) => cache.peek(keys[i % KEYS]!)),
    'await MemoryCache.get': () => timeAsync(params.ops, (i) => cache.get(keys[i % KEYS]!)),
    'await MemoryCache.getOrLoad': () => timeAsync(params.ops, (i) => cache.getOrLoad(keys[i % KEYS]!, loader)),
  };
  const best: Record<string, number> = {};
  for (let r = 1; r <= params.rounds; r++) {
    for (const [name, run] of Object.entries(variants)) {
      const ns = await run();
      best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, ns);
      console.log(`cache round ${r} ${name.padEnd(28)} ${ns.toFixed(1)} ns/hit`);
    }
  }
  printTable(
    `cache: ns per hit, best of ${params.rounds} rounds of ${params.ops} hits over ${KEYS} keys`,
    ['operation', 'ns/hit'],
    Object.entries(best).map(([name, ns]) => [name, ns]),
  );
  const hitUs = best['await MemoryCache.getOrLoad']! / 1000;
  return {
    method: `${params.rounds} rounds of ${params.ops} sequential hits each; best round per operation`,
    params,
    figures: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Math.round(v * 10) / 10])),
    ratio: {
      getOrLoad_hit_us: Math.round(hitUs * 1000) / 1000,
      peek_vs_lru: best['MemoryCache.peek']! / best['lru-cache get']!,
    },
    targets: { getOrLoad_hit_us: '<= 1 (µs per in-process hit)', peek_vs_lru: 'information' },
    met: hitUs <= 1,
  };
}
