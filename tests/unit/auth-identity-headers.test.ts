import {
  AuthGuard,
  DEFAULT_FORWARD_CLAIMS,
  decodeClaimsHeader,
  IDENTITY_HEADERS,
  StaticKeySource,
  stripIdentityHeaders,
} from '@switchyard/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIENCE, bearer, ISSUER, keyPair, request, sign, type TestKeyPair } from './auth-fixtures.js';

// The verified identity goes upstream in x-switchyard-* headers; client-sent copies never do.
let rsa: TestKeyPair;

beforeAll(async () => {
  rsa = await keyPair('rsa-1');
});

function makeGuard(o: { forwardClaims?: string[]; forwardCredentials?: boolean } = {}) {
  return new AuthGuard({
    jwt: {
      keySource: new StaticKeySource({ keys: [{ type: 'pem', kid: 'rsa-1', pem: rsa.publicPem }] }),
      issuer: ISSUER,
      audience: AUDIENCE,
    },
    apiKeys: { keys: [{ id: 'ci', key: 'ci-key-0123456789abcdef', subject: 'ci-bot', scopes: ['deploy', 'read'] }] },
    ...o,
  });
}

const spoofed = {
  'x-switchyard-subject': 'admin',
  'x-switchyard-scopes': 'admin root',
  'x-switchyard-claims': Buffer.from('{"sub":"admin"}').toString('base64url'),
  'x-switchyard-auth': 'jwt',
};

describe('identity headers', () => {
  let guard: AuthGuard;
  beforeAll(() => {
    guard = makeGuard();
  });
  afterAll(() => guard.close());

  it('forwards subject, scopes and selected claims of a verified JWT; strips spoofed copies', async () => {
    const token = await sign(rsa, { scope: 'orders:read orders:write', email: 'u@example.test', secret: 'x' });
    const req = request({ authorization: bearer(token), headers: { ...spoofed } });
    // a second spoofed copy in another case, as rawHeaders can hold it
    req.rawHeaders.push('X-Switchyard-Subject', 'root');
    await guard.authorize(req, guard.compileRoute());

    expect(req.headers[IDENTITY_HEADERS.auth]).toBe('jwt');
    expect(req.headers[IDENTITY_HEADERS.subject]).toBe('user-1');
    expect(req.headers[IDENTITY_HEADERS.scopes]).toBe('orders:read orders:write');
    const claims = decodeClaimsHeader(req.headers[IDENTITY_HEADERS.claims] as string);
    expect(Object.keys(claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'sub']);
    expect(claims).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sub: 'user-1' });
    expect(DEFAULT_FORWARD_CLAIMS).not.toContain('email');

    // rawHeaders hold exactly one copy of each, the verified one
    const raw = new Map<string, string[]>();
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i]!.toLowerCase();
      raw.set(k, [...(raw.get(k) ?? []), req.rawHeaders[i + 1]!]);
    }
    expect(raw.get('x-switchyard-subject')).toEqual(['user-1']);
    expect(raw.get('x-switchyard-scopes')).toEqual(['orders:read orders:write']);
  });

  it('consumes the credential by default (no Authorization upstream)', async () => {
    const req = request({ authorization: bearer(await sign(rsa)) });
    await guard.authorize(req, guard.compileRoute());
    expect(req.headers.authorization).toBeUndefined();
    expect(req.rawHeaders.map((h) => h.toLowerCase())).not.toContain('authorization');
    const withKey = request({ headers: { 'x-api-key': 'ci-key-0123456789abcdef' } });
    await guard.authorize(withKey, guard.compileRoute());
    expect(withKey.headers['x-api-key']).toBeUndefined();
  });

  it('API-key identities forward subject, scopes and client_id', async () => {
    const req = request({ headers: { 'x-api-key': 'ci-key-0123456789abcdef', ...spoofed } });
    await guard.authorize(req, guard.compileRoute());
    expect(req.headers[IDENTITY_HEADERS.auth]).toBe('api-key');
    expect(req.headers[IDENTITY_HEADERS.subject]).toBe('ci-bot');
    expect(req.headers[IDENTITY_HEADERS.scopes]).toBe('deploy read');
    expect(decodeClaimsHeader(req.headers[IDENTITY_HEADERS.claims] as string)).toEqual({
      sub: 'ci-bot',
      client_id: 'ci',
    });
  });

  it('anonymous callers get only x-switchyard-auth: anonymous; spoofed headers are gone', async () => {
    const req = request({ headers: { ...spoofed } });
    await guard.authorize(req, guard.compileRoute({ mode: 'optional' }));
    expect(req.headers[IDENTITY_HEADERS.auth]).toBe('anonymous');
    for (const h of [IDENTITY_HEADERS.subject, IDENTITY_HEADERS.scopes, IDENTITY_HEADERS.claims]) {
      expect(req.headers[h], h).toBeUndefined();
    }
  });

  it('spoofed headers are stripped first, before anything can fail', async () => {
    const req = request({ headers: { ...spoofed } });
    await expect(guard.authorize(req, guard.compileRoute())).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(req.headers['x-switchyard-subject']).toBeUndefined();
  });

  it('stripIdentityHeaders handles any header-name case in plain objects', () => {
    const req = { headers: { 'X-Switchyard-Subject': 'admin', 'x-other': '1' } as Record<string, string> };
    stripIdentityHeaders(req);
    expect(req.headers).toEqual({ 'x-other': '1' });
  });
});

describe('identity header options', () => {
  it('forwardClaims selects the claims; forwardCredentials keeps the Authorization header', async () => {
    const guard = makeGuard({ forwardClaims: ['sub', 'email'], forwardCredentials: true });
    const token = await sign(rsa, { email: 'u@example.test' });
    const req = request({ authorization: bearer(token) });
    await guard.authorize(req, guard.compileRoute());
    expect(decodeClaimsHeader(req.headers[IDENTITY_HEADERS.claims] as string)).toEqual({
      sub: 'user-1',
      email: 'u@example.test',
    });
    expect(req.headers.authorization).toBe(bearer(token));
    await guard.close();
  });

  it('no scopes means no scopes header', async () => {
    const guard = makeGuard();
    const req = request({ authorization: bearer(await sign(rsa)) });
    await guard.authorize(req, guard.compileRoute());
    expect(req.headers[IDENTITY_HEADERS.scopes]).toBeUndefined();
    expect(req.headers[IDENTITY_HEADERS.subject]).toBe('user-1');
    await guard.close();
  });
});
