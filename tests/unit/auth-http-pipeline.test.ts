import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthGuard, decodeClaimsHeader, StaticKeySource, writeErrorResponse } from '@switchyard/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCE, bearer, ISSUER, keyPair, sign, type TestKeyPair } from './auth-fixtures.js';

// The guard dropped into a raw node:http handler: real IncomingMessages, real responses.
let rsa: TestKeyPair;
let guard: AuthGuard;
let server: Server;
let base: string;
type Echo = { identity: unknown; forwarded: Record<string, string>; raw: string[] };

beforeAll(async () => {
  rsa = await keyPair('rsa-1');
  guard = new AuthGuard({
    jwt: {
      keySource: new StaticKeySource({ keys: [{ type: 'pem', kid: 'rsa-1', pem: rsa.publicPem }] }),
      issuer: ISSUER,
      audience: AUDIENCE,
    },
  });
  await guard.start();
  const routes = {
    orders: guard.compileRoute({ mode: 'required', scopes: ['orders:read'] }),
    health: guard.compileRoute({ mode: 'off' }),
  };
  server = createServer(async (req, res) => {
    try {
      const route = req.url?.startsWith('/health') ? routes.health : routes.orders;
      const identity = await guard.authorize(req, route);
      // stands in for the proxy: echo what would be forwarded upstream
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ identity, forwarded: req.headers, raw: req.rawHeaders }));
    } catch (err) {
      writeErrorResponse(res, err);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await guard.close();
});

describe('AuthGuard in a node:http pipeline', () => {
  it('401 carries the RFC 6750 WWW-Authenticate header and the JSON error body', async () => {
    const res = await fetch(`${base}/orders/1`, { headers: { authorization: 'Bearer not.a.jwt' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="switchyard", error="invalid_token", error_description="token is malformed"',
    );
    expect(await res.json()).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'malformed_token' } });
  });

  it('403 for a missing scope', async () => {
    const res = await fetch(`${base}/orders/1`, { headers: { authorization: bearer(await sign(rsa)) } });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { details: { wwwAuthenticate: string } };
    expect(body).toMatchObject({ code: 'PERMISSION_DENIED', details: { requiredScopes: ['orders:read'] } });
    expect(body.details.wwwAuthenticate).toContain('scope="orders:read"');
  });

  it('200 forwards the verified identity and never the spoofed one or the token', async () => {
    const token = await sign(rsa, { scope: 'orders:read' });
    const res = await fetch(`${base}/orders/1`, {
      headers: { authorization: bearer(token), 'X-Switchyard-Subject': 'admin', 'x-switchyard-scopes': 'admin' },
    });
    expect(res.status).toBe(200);
    const { identity, forwarded, raw } = (await res.json()) as Echo;
    expect(identity).toMatchObject({ method: 'jwt', subject: 'user-1', scopes: ['orders:read'] });
    expect(forwarded['x-switchyard-subject']).toBe('user-1');
    expect(forwarded['x-switchyard-scopes']).toBe('orders:read');
    expect(decodeClaimsHeader(forwarded['x-switchyard-claims']!)).toMatchObject({ sub: 'user-1', iss: ISSUER });
    expect(forwarded.authorization).toBeUndefined();
    expect(raw.filter((h) => h.toLowerCase() === 'x-switchyard-subject')).toHaveLength(1);
    expect(raw).not.toContain('admin');
  });

  it('auth off still strips spoofed identity headers', async () => {
    const res = await fetch(`${base}/health`, { headers: { 'x-switchyard-subject': 'admin' } });
    expect(res.status).toBe(200);
    const { forwarded } = (await res.json()) as Echo;
    expect(forwarded['x-switchyard-subject']).toBeUndefined();
  });
});
