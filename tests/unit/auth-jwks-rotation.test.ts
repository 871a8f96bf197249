import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { JwksKeySource, JwtVerifier } from '@switchyard/gateway';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCE, ISSUER, keyPair, rejection, sign, type TestKeyPair } from './auth-fixtures.js';

// A real JWKS endpoint on 127.0.0.1 whose key set the test rotates.
let server: Server;
let url: string;
let served: JWK[] = [];
let fetches = 0;
let k1: TestKeyPair;
let k2: TestKeyPair;
let es: TestKeyPair;

beforeAll(async () => {
  [k1, k2, es] = await Promise.all([keyPair('k1'), keyPair('k2'), keyPair('es-1', 'ES256')]);
  server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('JwksKeySource against a rotating JWKS', () => {
  it('picks up a new kid after the cooldown, and rejects a removed kid once the set is refetched', async () => {
    const cooldownMs = 800;
    const cacheMaxAgeMs = 2500;
    served = [k1.publicJwk];
    fetches = 0;
    const source = new JwksKeySource({ url, cooldownMs, cacheMaxAgeMs });
    const verifier = new JwtVerifier({ keySource: source, issuer: ISSUER, audience: AUDIENCE });
    await verifier.start();
    const t0 = Date.now();
    expect(fetches).toBe(1);

    const oldToken = await sign(k1, { scope: 'a' });
    await expect(verifier.verify(oldToken)).resolves.toMatchObject({ subject: 'user-1', scopes: ['a'] });

    // Rotation step 1: k2 is published next to k1.
    served = [k1.publicJwk, k2.publicJwk];
    const newToken = await sign(k2);
    const early = await rejection(verifier.verify(newToken));
    if (Date.now() - t0 < cooldownMs) {
      // Within the cooldown an unknown kid does not trigger a fetch: refused.
      expect(early.details?.reason).toBe('unknown_kid');
      expect(fetches).toBe(1);
    }
    await sleep(Math.max(0, t0 + cooldownMs + 100 - Date.now()));
    await expect(verifier.verify(newToken)).resolves.toMatchObject({ subject: 'user-1' });
    expect(fetches).toBe(2);
    const t2 = Date.now();

    // Rotation step 2: k1 is removed (retired or revoked).
    served = [k2.publicJwk];
    // Until the set is refetched (cacheMaxAgeMs) the old key is still trusted: the documented window.
    if (Date.now() - t2 < cacheMaxAgeMs - 200) await expect(verifier.verify(oldToken)).resolves.toBeDefined();

    await sleep(Math.max(0, t2 + cacheMaxAgeMs + 100 - Date.now()));
    // Any uncached verification refetches the stale set ...
    await expect(verifier.verify(await sign(k2, { jti: 'fresh' }))).resolves.toBeDefined();
    expect(fetches).toBe(3);
    expect([...source.kids]).toEqual(['k2']);
    // ... and the token cached with k1 is dropped and refused, as is a new k1 token.
    const revoked = await rejection(verifier.verify(oldToken));
    expect(revoked.code).toBe('UNAUTHENTICATED');
    expect(revoked.details?.reason).toBe('unknown_kid');
    const stillK1 = await rejection(verifier.verify(await sign(k1, { jti: 'new' })));
    expect(stillK1.details?.reason).toBe('unknown_kid');
    await verifier.close();
  });

  it('pins algorithms: an HS256 token is refused, EC keys need their algorithm allowed', async () => {
    served = [k1.publicJwk, es.publicJwk];
    const verifier = new JwtVerifier({
      keySource: new JwksKeySource({ url, algorithms: ['RS256', 'ES256'] }),
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    await expect(verifier.verify(await sign(es))).resolves.toMatchObject({ method: 'jwt' });
    const hs = await sign(new TextEncoder().encode(JSON.stringify(k1.publicJwk)), {}, { alg: 'HS256', kid: 'k1' });
    expect((await rejection(verifier.verify(hs))).details?.reason).toBe('alg_not_allowed');
    const rsOnly = new JwtVerifier({ keySource: new JwksKeySource({ url }), issuer: ISSUER, audience: AUDIENCE });
    expect((await rejection(rsOnly.verify(await sign(es)))).details?.reason).toBe('alg_not_allowed');
    await Promise.all([verifier.close(), rsOnly.close()]);
  });

  it('an unreachable JWKS is 503 UNAVAILABLE, not 401', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const source = new JwksKeySource({ url: `http://127.0.0.1:${port}/jwks.json`, timeoutMs: 1000 });
    expect((await rejection(source.start())).code).toBe('UNAVAILABLE');
    const verifier = new JwtVerifier({ keySource: source });
    expect((await rejection(verifier.verify(await sign(k1)))).code).toBe('UNAVAILABLE');
    await verifier.close();
    const notFound = new JwksKeySource({ url: url.replace('jwks.json', 'nope.json') });
    expect((await rejection(notFound.start())).code).toBe('UNAVAILABLE');
  });
});
