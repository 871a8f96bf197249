/**
 * `npm run bench -- sync`: a lock's acquire + release round trip through EtcdSync against
 * etcd3's own Lock (acquire + release), one at a time and with 16 distinct locks in
 * flight, on a private etcd. Target: ours >= 0.8x raw (issue 11).
 */
import { randomBytes } from 'node:crypto';
import { createEtcdClient, EtcdSync } from '@switchyard/sdk';
import { PrivateEtcd } from '../tests/harness/etcd.js';
import { envInt } from './lib/config.js';
import { ratio } from './lib/stats.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';

async function rate(rounds: number, parallel: number, once: (lane: number) => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async (_, lane) => {
      for (let i = 0; i < rounds; i++) await once(lane);
    }),
  );
  return (rounds * parallel * 1000) / (performance.now() - t0);
}

export async function runSync(): Promise<SuiteReport> {
  const params = { rounds: envInt('BENCH_ROUNDS', 5), ops: envInt('BENCH_SYNC_OPS', 300), parallel: 16, ttlSec: 10 };
  const external = process.env.SWITCHYARD_BENCH_ETCD;
  const etcd = external ? undefined : await PrivateEtcd.start();
  const endpoint = external ?? etcd!.endpoint;
  const namespace = `bench-sync-${randomBytes(3).toString('hex')}`;
  const raw = createEtcdClient(endpoint);
  const ours = new EtcdSync({ endpoints: [endpoint], namespace });
  const variants = {
    raw: (lane: number) =>
      raw
        .lock(`/${namespace}/raw/${lane}`)
        .ttl(params.ttlSec)
        .acquire()
        .then((l) => l.release()),
    ours: (lane: number) => ours.lock(`l${lane}`, { ttlSec: params.ttlSec, waitMs: 0 }).then((l) => l.unlock()),
  };
  const best: Record<string, number> = {};
  try {
    for (let r = 1; r <= params.rounds; r++) {
      for (const parallel of [1, params.parallel]) {
        for (const [name, once] of Object.entries(variants)) {
          const perSecond = await rate(Math.ceil(params.ops / parallel), parallel, once);
          const key = `${name}@${parallel}`;
          best[key] = Math.max(best[key] ?? 0, perSecond);
          console.log(`sync round ${r} ${key.padEnd(10)} ${Math.round(perSecond)} acquire+release/s`);
        }
      }
    }
  } finally {
    await ours.close();
    await raw
      .delete()
      .prefix(`/${namespace}/`)
      .exec()
      .catch(() => {});
    raw.close();
    await etcd?.close();
  }
  const ratios = {
    lock_round_trip_c1: ratio(best['ours@1']!, best['raw@1']!),
    lock_round_trip_c16: ratio(best[`ours@${params.parallel}`]!, best[`raw@${params.parallel}`]!),
  };
  printTable(
    `sync: lock acquire + release per second, best of ${params.rounds} rounds of ${params.ops}`,
    ['in flight', 'etcd3 Lock', 'EtcdSync.lock', 'ours / raw'],
    [1, params.parallel].map((p) => [
      p,
      best[`raw@${p}`]!,
      best[`ours@${p}`]!,
      ratio(best[`ours@${p}`]!, best[`raw@${p}`]!),
    ]),
  );
  return {
    method: `${params.rounds} rounds; each: ${params.ops} acquire+release one at a time, then with ${params.parallel} distinct locks in flight; best round each`,
    params,
    figures: best,
    ratio: ratios,
    targets: { lock_round_trip_c1: '>= 0.8', lock_round_trip_c16: '>= 0.8' },
    met: ratios.lock_round_trip_c1 >= 0.8 && ratios.lock_round_trip_c16 >= 0.8,
  };
}
