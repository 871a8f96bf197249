import { performance } from 'node:perf_hooks';
import { JwtVerifier, StaticKeySource } from '@switchyard/gateway';
import { beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCE, b64url, HS_SECRET, ISSUER, keyPair, rejection, sign, type TestKeyPair } from './auth-fixtures.js';

// Clock tolerance and the verified-token cache, with an injected clock (no sleeping).
let rsa: TestKeyPair;
const T = 2_000_000_000; // a fixed "now" in seconds

beforeAll(async () => {
  rsa = await keyPair('rsa-1');
});

function verifier(o: { tolerance?: number; cache?: false | { maxEntries?: number; maxTtlMs?: number } } = {}) {
  const clock = { now: T * 1000 };
  const v = new JwtVerifier({
    keySource: new StaticKeySource({ keys: [{ type: 'pem', kid: 'rsa-1', pem: rsa.publicPem }] }),
    issuer: ISSUER,
    audience: AUDIENCE,
    clockToleranceSec: o.tolerance ?? 0,
    ...(o.cache === undefined ? {} : { cache: o.cache }),
    clock: () => clock.now,
  });
  return { v, clock };
}

describe('clock tolerance', () => {
  it('accepts exp and nbf within the tolerance, refuses beyond it', async () => {
    const { v, clock } = verifier({ tolerance: 30, cache: false });
    const token = await sign(rsa, {}, { iat: T - 100, exp: T });
    clock.now = (T + 29) * 1000;
    await expect(v.verify(token)).resolves.toBeDefined();
    clock.now = (T + 31) * 1000;
    expect((await rejection(v.verify(token))).details?.reason).toBe('expired');

    const early = await sign(rsa, {}, { iat: T, nbf: T + 20, exp: T + 600 });
    clock.now = T * 1000;
    await expect(v.verify(early)).resolves.toBeDefined();
    const tooEarly = await sign(rsa, {}, { iat: T, nbf: T + 40, exp: T + 600 });
    expect((await rejection(v.verify(tooEarly))).details?.reason).toBe('not_yet_valid');
  });

  it('with no tolerance, a token is refused from its exp second on', async () => {
    const { v, clock } = verifier({ tolerance: 0, cache: false });
    const token = await sign(rsa, {}, { iat: T - 100, exp: T });
    clock.now = (T - 1) * 1000;
    await expect(v.verify(token)).resolves.toBeDefined();
    clock.now = T * 1000;
    expect((await rejection(v.verify(token))).details?.reason).toBe('expired');
  });
});

describe('verified-token cache', () => {
  it('serves repeats from the cache until exp + tolerance, then refuses', async () => {
    const { v, clock } = verifier({ tolerance: 10, cache: { maxTtlMs: 3_600_000 } });
    const token = await sign(rsa, {}, { iat: T - 100, exp: T + 60 });
    const first = await v.verify(token);
    expect(await v.verify(token)).toBe(first);
    expect(v.stats).toMatchObject({ cacheSize: 1, cacheHits: 1, cacheMisses: 1 });
    clock.now = (T + 69) * 1000; // inside exp + tolerance
    expect(await v.verify(token)).toBe(first);
    expect(v.stats.cacheHits).toBe(2);
    clock.now = (T + 70) * 1000; // exp + tolerance reached: not served, re-verified, refused
    expect((await rejection(v.verify(token))).details?.reason).toBe('expired');
    expect(v.stats).toMatchObject({ cacheHits: 2, cacheMisses: 2 });
  });

  it('does not serve a cached token before its nbf (clock moved backwards)', async () => {
    const { v, clock } = verifier();
    const token = await sign(rsa, {}, { iat: T, nbf: T, exp: T + 600 });
    await v.verify(token);
    clock.now = (T - 5) * 1000;
    expect((await rejection(v.verify(token))).details?.reason).toBe('not_yet_valid');
  });

  it('caps the reuse of a verification at maxTtlMs', async () => {
    const { v, clock } = verifier({ cache: { maxTtlMs: 1000 } });
    const token = await sign(rsa, {}, { iat: T, exp: T + 3600 });
    await v.verify(token);
    clock.now += 999;
    await v.verify(token);
    expect(v.stats).toMatchObject({ cacheHits: 1, cacheMisses: 1 });
    clock.now += 1;
    await v.verify(token);
    expect(v.stats).toMatchObject({ cacheHits: 1, cacheMisses: 2 });
  });

  it('is a bounded LRU', async () => {
    const { v } = verifier({ cache: { maxEntries: 3 } });
    const tokens = await Promise.all([0, 1, 2, 3].map((i) => sign(rsa, { jti: `t${i}` }, { iat: T, exp: T + 600 })));
    for (const t of tokens.slice(0, 3)) await v.verify(t);
    await v.verify(tokens[0]!); // t0 becomes most recent; t1 is now the oldest
    await v.verify(tokens[3]!); // evicts t1
    expect(v.stats).toMatchObject({ cacheSize: 3, cacheHits: 1, cacheMisses: 4 });
    await v.verify(tokens[0]!);
    await v.verify(tokens[2]!);
    expect(v.stats.cacheHits).toBe(3);
    await v.verify(tokens[1]!);
    expect(v.stats.cacheMisses).toBe(5);
  });

  it('is keyed by the whole token: a cached signature cannot be reused with another payload', async () => {
    const { v } = verifier();
    const token = await sign(rsa, { scope: 'read' }, { iat: T, exp: T + 600 });
    await v.verify(token);
    const [h, , s] = token.split('.');
    const forged = `${h}.${b64url({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', scope: 'admin', exp: T + 600 })}.${s}`;
    expect((await rejection(v.verify(forged))).details?.reason).toBe('bad_signature');
  });

  it('does not cache failures', async () => {
    const { v } = verifier();
    const bad = await sign(rsa, {}, { iat: T, exp: T + 600, aud: 'other' });
    await rejection(v.verify(bad));
    await rejection(v.verify(bad));
    expect(v.stats).toMatchObject({ cacheSize: 0, cacheHits: 0, cacheMisses: 2 });
  });
});

describe('verify cost with and without the cache', () => {
  it('measures (printed, not asserted)', async () => {
    const hs = await sign(new TextEncoder().encode(HS_SECRET), { scope: 'a b' }, { alg: 'HS256', kid: 'hs' });
    const rs = await sign(rsa, { scope: 'a b' });
    const es = await keyPair('es', 'ES256');
    const ec = await sign(es, { scope: 'a b' });
    const keys = new StaticKeySource({
      keys: [
        { type: 'pem', kid: 'rsa-1', pem: rsa.publicPem },
        { type: 'secret', kid: 'hs', secret: HS_SECRET },
        { type: 'jwk', jwk: es.publicJwk },
      ],
    });
    const n = 1000;
    const lines: string[] = [];
    for (const cache of [false, {}] as const) {
      const v = new JwtVerifier({ keySource: keys, issuer: ISSUER, audience: AUDIENCE, cache });
      await v.start();
      for (const [alg, token] of [
        ['HS256', hs],
        ['RS256', rs],
        ['ES256', ec],
      ] as const) {
        for (let i = 0; i < 200; i++) await v.verify(token); // warm-up
        // median of 5 rounds: other test files run in parallel on two cores
        const rounds: number[] = [];
        for (let r = 0; r < 5; r++) {
          const t0 = performance.now();
          for (let i = 0; i < n; i++) await v.verify(token);
          rounds.push(((performance.now() - t0) * 1000) / n);
        }
        const us = rounds.sort((a, b) => a - b)[2]!;
        lines.push(`${alg} ${cache === false ? 'no cache' : 'cached  '}: ${us.toFixed(1)} µs/verify`);
      }
    }
    console.log(`JwtVerifier.verify, median of 5 rounds of ${n} sequential calls:\n  ${lines.join('\n  ')}`);
    expect(lines).toHaveLength(6);
  });
});
