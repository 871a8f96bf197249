import { DEFAULT_HASH_PARAMS, hashSecret } from '@switchyard/auth';
import { startBenchAuth } from './lib/auth-service.js';
import { envInt } from './lib/config.js';
import { concurrent } from './lib/load.js';
import { ratio } from './lib/stats.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';

export async function runAuth(): Promise<SuiteReport> {
  const params = { grants: envInt('BENCH_AUTH_GRANTS', 48), hash: DEFAULT_HASH_PARAMS };
  const server = await startBenchAuth();
  const url = server.address()!.url;
  const { secret } = await server.createAccount({ id: 'bench', type: 'service' });
  const authorization = `Basic ${Buffer.from(`bench:${secret}`).toString('base64')}`;
  const grant = async () => {
    const res = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    if (res.status !== 200) throw new Error(`grant failed: ${res.status}`);
    await res.arrayBuffer();
  };
  const hash = () => hashSecret(secret, DEFAULT_HASH_PARAMS).then(() => undefined);
  try {
    await grant();
    const rows: Array<[string, number, number]> = [];
    const figures: Record<string, number> = {};
    for (const c of [1, 16]) {
      const h = await concurrent(hash, params.grants, c);
      const g = await concurrent(grant, params.grants, c);
      figures[`hash_per_s_c${c}`] = h.perSecond;
      figures[`grants_per_s_c${c}`] = g.perSecond;
      figures[`grant_p50_ms_c${c}`] = g.latency.p50;
      rows.push([`c=${c}`, h.perSecond, g.perSecond]);
    }
    // While 16 grants hash, how many JWKS requests get answered (the event loop is free)?
    let jwks = 0;
    let stop = false;
    const poll = (async () => {
      while (!stop) {
        await (await fetch(`${url}/.well-known/jwks.json`)).arrayBuffer();
        jwks++;
      }
    })();
    const t0 = performance.now();
    await concurrent(grant, 16, 16);
    const elapsed = performance.now() - t0;
    stop = true;
    await poll;
    figures.jwks_per_s_during_grants = (jwks * 1000) / elapsed;
    printTable(
      'auth: client-credentials grants vs the bare scrypt hash (same process)',
      ['concurrency', 'scrypt hashes/s', 'grants/s'],
      rows,
    );
    const ratios = {
      grant_vs_hash_c1: ratio(figures.grants_per_s_c1!, figures.hash_per_s_c1!),
      grant_vs_hash_c16: ratio(figures.grants_per_s_c16!, figures.hash_per_s_c16!),
    };
    printTable(
      'auth ratios',
      ['ratio', 'value', 'note'],
      [
        ['grant_vs_hash_c1', ratios.grant_vs_hash_c1, 'grant cost beyond the hash'],
        ['grant_vs_hash_c16', ratios.grant_vs_hash_c16, 'libuv threadpool: 4 hashes at once'],
        ['jwks_per_s_during_grants', figures.jwks_per_s_during_grants, '> 0: hashing is off the event loop'],
      ],
    );
    return {
      method: `${params.grants} grants per concurrency, hash baseline first`,
      params,
      figures,
      ratio: ratios,
      targets: { jwks_per_s_during_grants: '> 0' },
      met: figures.jwks_per_s_during_grants > 0,
    };
  } finally {
    await server.close();
  }
}
