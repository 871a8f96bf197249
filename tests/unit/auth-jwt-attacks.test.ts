import { createPublicKey } from 'node:crypto';
import { AuthGuard, httpStatusOf, type RouteAuth, StaticKeySource } from '@switchyard/gateway';
import { UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIENCE,
  b64url,
  bearer,
  HS_SECRET,
  ISSUER,
  keyPair,
  nowSec,
  rejection,
  request,
  sign,
  type TestKeyPair,
} from './auth-fixtures.js';

// The JWT attack set: every hostile or broken token gets the right status, code and reason.
let rsa: TestKeyPair;
let otherRsa: TestKeyPair;
let guard: AuthGuard;
let route: RouteAuth;
let scoped: RouteAuth;

beforeAll(async () => {
  rsa = await keyPair('rsa-1');
  otherRsa = await keyPair('rsa-1'); // same kid, different key: a forgery
  guard = new AuthGuard({
    jwt: {
      keySource: new StaticKeySource({ keys: [{ type: 'pem', kid: 'rsa-1', pem: rsa.publicPem }] }),
      issuer: ISSUER,
      audience: AUDIENCE,
      clockToleranceSec: 0,
    },
  });
  await guard.start();
  route = guard.compileRoute({ mode: 'required' });
  scoped = guard.compileRoute({ mode: 'required', scopes: ['orders:write'] });
});
afterAll(() => guard.close());

async function refused(authorization: string | undefined, r: RouteAuth = route) {
  const err = await rejection(guard.authorize(request({ authorization }), r));
  return {
    status: httpStatusOf(err.code),
    code: err.code,
    reason: err.details?.reason,
    challenge: err.details?.wwwAuthenticate as string,
  };
}

describe('JWT attack set', () => {
  it('accepts a valid token (the control: every case below differs from it in one way)', async () => {
    const identity = await guard.authorize(request({ authorization: bearer(await sign(rsa)) }), route);
    expect(identity).toMatchObject({ method: 'jwt', subject: 'user-1' });
  });

  it('alg "none" is refused', async () => {
    const unsecured = new UnsecuredJWT({ sub: 'admin' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .encode();
    for (const token of [unsecured, `${b64url({ alg: 'none', kid: 'rsa-1' })}.${b64url({ sub: 'admin' })}.`]) {
      const r = await refused(bearer(token));
      expect(r).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', reason: 'alg_not_allowed' });
      expect(r.challenge).toMatch(/^Bearer realm="switchyard", error="invalid_token", error_description="/);
    }
  });

  it('HS256 "signed" with the RS256 public key is refused (PEM text, DER bytes, with and without kid)', async () => {
    const pemBytes = new TextEncoder().encode(rsa.publicPem);
    const der = new Uint8Array(createPublicKey(rsa.publicPem).export({ type: 'spki', format: 'der' }));
    for (const secret of [pemBytes, der]) {
      for (const kid of ['rsa-1', null]) {
        const token = await sign(secret, {}, { alg: 'HS256', kid });
        expect(await refused(bearer(token))).toMatchObject({ status: 401, reason: 'alg_not_allowed' });
      }
    }
  });

  it('HS256 with the RS public key fails even when HS256 is allowed for a separate secret', async () => {
    const both = new AuthGuard({
      jwt: {
        keySource: new StaticKeySource({
          keys: [
            { type: 'pem', kid: 'rsa-1', pem: rsa.publicPem },
            { type: 'secret', kid: 'hs-1', secret: HS_SECRET },
          ],
        }),
        issuer: ISSUER,
        audience: AUDIENCE,
      },
    });
    const r = both.compileRoute({});
    const confused = await sign(new TextEncoder().encode(rsa.publicPem), {}, { alg: 'HS256', kid: 'rsa-1' });
    const viaKid = await rejection(both.authorize(request({ authorization: bearer(confused) }), r));
    expect(viaKid.details?.reason).toBe('alg_not_allowed'); // the RSA key is never an HMAC key
    const toSecret = await sign(new TextEncoder().encode(rsa.publicPem), {}, { alg: 'HS256', kid: 'hs-1' });
    const viaSecret = await rejection(both.authorize(request({ authorization: bearer(toSecret) }), r));
    expect(viaSecret.details?.reason).toBe('bad_signature');
    // control: the real secret works on the same guard
    const good = await sign(new TextEncoder().encode(HS_SECRET), {}, { alg: 'HS256', kid: 'hs-1' });
    await expect(both.authorize(request({ authorization: bearer(good) }), r)).resolves.toMatchObject({
      method: 'jwt',
    });
    await both.close();
  });

  it('an expired token is refused', async () => {
    const token = await sign(rsa, {}, { exp: nowSec() - 10, iat: nowSec() - 100 });
    expect(await refused(bearer(token))).toMatchObject({ status: 401, reason: 'expired' });
  });

  it('a not-yet-valid token is refused', async () => {
    const token = await sign(rsa, {}, { nbf: nowSec() + 60 });
    expect(await refused(bearer(token))).toMatchObject({ status: 401, reason: 'not_yet_valid' });
  });

  it('a token without exp is refused (exp is required by default)', async () => {
    const token = await sign(rsa, {}, { exp: null });
    expect(await refused(bearer(token))).toMatchObject({ status: 401, reason: 'missing_claim' });
  });

  it('a wrong issuer is refused', async () => {
    const token = await sign(rsa, {}, { iss: 'https://evil.test' });
    expect(await refused(bearer(token))).toMatchObject({ status: 401, reason: 'wrong_issuer' });
  });

  it('a wrong audience is refused', async () => {
    const token = await sign(rsa, {}, { aud: 'another-api' });
    expect(await refused(bearer(token))).toMatchObject({ status: 401, reason: 'wrong_audience' });
  });

  it('a missing scope is 403 insufficient_scope naming the scope', async () => {
    const token = await sign(rsa, { scope: 'orders:read' });
    const r = await refused(bearer(token), scoped);
    expect(r).toMatchObject({ status: 403, code: 'PERMISSION_DENIED', reason: 'insufficient_scope' });
    expect(r.challenge).toContain('error="insufficient_scope"');
    expect(r.challenge).toContain('scope="orders:write"');
    // control: with the scope (here via scp) the same route admits it
    const ok = await sign(rsa, { scp: ['orders:read', 'orders:write'] });
    await expect(guard.authorize(request({ authorization: bearer(ok) }), scoped)).resolves.toBeDefined();
  });

  it('garbage and malformed tokens are refused as malformed', async () => {
    const good = await sign(rsa);
    const [h, p] = good.split('.');
    const cases = [
      'garbage',
      'a.b.c',
      '..',
      `${h}.${p}`,
      `${good}.extra`,
      `${b64url('not json')}.${p}.sig`,
      `${h}.${b64url('not json')}.sig`,
      `${h}.${b64url([1, 2])}.sig`,
      `${h}.${p}.%%%`,
      'x'.repeat(20_000),
    ];
    for (const token of cases) {
      const r = await refused(bearer(token));
      expect(r.status, token.slice(0, 40)).toBe(401);
      expect(['malformed_token', 'bad_signature'], token.slice(0, 40)).toContain(r.reason);
      expect(r.challenge).toContain('error="invalid_token"');
    }
  });

  it('a wrong signature is refused (other key with the same kid; tampered payload)', async () => {
    expect(await refused(bearer(await sign(otherRsa)))).toMatchObject({ status: 401, reason: 'bad_signature' });
    const [h, , s] = (await sign(rsa, { scope: 'orders:read' })).split('.');
    const tampered = `${h}.${b64url({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: nowSec() + 300, scope: 'admin' })}.${s}`;
    expect(await refused(bearer(tampered))).toMatchObject({ status: 401, reason: 'bad_signature' });
  });

  it('an unknown kid is refused', async () => {
    const stranger = await keyPair('rsa-unknown');
    expect(await refused(bearer(await sign(stranger)))).toMatchObject({ status: 401, reason: 'unknown_kid' });
  });

  it('a token in the wrong header form is refused without an error code (RFC 6750 §3.1)', async () => {
    const token = await sign(rsa);
    for (const authorization of [`Basic ${Buffer.from('user:pass').toString('base64')}`, token, `Token ${token}`]) {
      const r = await refused(authorization);
      expect(r).toMatchObject({ status: 401, reason: 'unsupported_scheme' });
      expect(r.challenge).toMatch(/^Bearer realm="switchyard"(, error_description="[^"]*")?$/);
    }
    for (const authorization of ['Bearer', 'Bearer ', `Bearer ${token} extra`, `Bearer "${token}"`]) {
      expect(await refused(authorization), authorization.slice(0, 20)).toMatchObject({
        status: 401,
        reason: 'malformed_token',
      });
    }
    // the scheme is case-insensitive (RFC 7235)
    await expect(guard.authorize(request({ authorization: `bearer ${token}` }), route)).resolves.toBeDefined();
  });

  it('no Authorization header on a required route is 401 with a bare challenge', async () => {
    const r = await refused(undefined);
    expect(r).toMatchObject({ status: 401, reason: 'missing_credentials' });
    expect(r.challenge.startsWith('Bearer realm="switchyard"')).toBe(true);
    expect(r.challenge).not.toContain('error=');
  });

  it('a sub that could inject headers is refused', async () => {
    const token = await sign(rsa, {}, { sub: 'user\r\nx-switchyard-scopes: admin' });
    expect(await refused(bearer(token))).toMatchObject({ status: 401, reason: 'invalid_claim' });
  });
});
