import { createHash } from 'node:crypto';
import { ApiKeyStore, AuthGuard, httpStatusOf, StaticKeySource } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';
import { bearer, HS_SECRET, rejection, request, sign, thrown } from './auth-fixtures.js';

// Static API keys: hashed lookup, subject + scopes, refusals.
const KEY = 'ci-key-0123456789abcdef';
const OTHER = 'ops-key-fedcba9876543210';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('ApiKeyStore', () => {
  const store = new ApiKeyStore({
    keys: [
      { id: 'ci', key: KEY, subject: 'ci-bot', scopes: ['deploy'] },
      { id: 'ops', sha256: sha256(OTHER), subject: 'ops', scopes: ['admin', 'deploy'] },
    ],
  });

  it('maps a key (plain or given as its SHA-256) to its subject and scopes', () => {
    expect(store.lookup(KEY)).toMatchObject({ method: 'api-key', subject: 'ci-bot', scopes: ['deploy'] });
    expect(store.lookup(OTHER)).toMatchObject({ subject: 'ops', scopes: ['admin', 'deploy'] });
  });

  it('refuses near misses and non-keys', () => {
    for (const k of [KEY.slice(0, -1), `${KEY}x`, KEY.toUpperCase(), '', sha256(KEY), `${KEY}, ${KEY}`]) {
      expect(store.lookup(k), k).toBeUndefined();
    }
  });

  it('validates its options, naming the option', () => {
    const msg = (o: unknown) => thrown(() => new ApiKeyStore(o as never)).message;
    expect(msg({ keys: [] })).toMatch(/^apiKeys\.keys /);
    expect(msg({ keys: [{ id: 'a', key: 'short', subject: 's' }] })).toMatch(/^apiKeys\.keys\[0\]\.key /);
    expect(msg({ keys: [{ id: 'a', sha256: 'abc', subject: 's' }] })).toMatch(/^apiKeys\.keys\[0\]\.sha256 /);
    expect(msg({ keys: [{ id: 'a', key: KEY, sha256: sha256(KEY), subject: 's' }] })).toMatch(
      /exactly one of key, sha256/,
    );
    expect(msg({ keys: [{ id: 'a', key: KEY, subject: 's\r\nx: y' }] })).toMatch(/\.subject /);
    expect(msg({ keys: [{ id: 'a', key: KEY, subject: 's', scopes: ['a b'] }] })).toMatch(/\.scopes /);
    expect(
      msg({
        keys: [
          { id: 'a', key: KEY, subject: 's' },
          { id: 'b', sha256: sha256(KEY), subject: 't' },
        ],
      }),
    ).toMatch(/same key/);
    expect(msg({ keys: [{ id: 'a', key: KEY, subject: 's' }], header: 'Authorization' })).toMatch(/^apiKeys\.header /);
  });
});

describe('API keys through the guard', () => {
  const guard = new AuthGuard({
    jwt: { keySource: new StaticKeySource({ keys: [{ type: 'secret', secret: HS_SECRET }] }) },
    apiKeys: { keys: [{ id: 'ci', key: KEY, subject: 'ci-bot', scopes: ['deploy'] }], header: 'X-Gateway-Key' },
  });

  it('authenticates with the configured header and enforces scopes', async () => {
    const deploy = guard.compileRoute({ scopes: ['deploy'] });
    const admin = guard.compileRoute({ scopes: ['admin'] });
    await expect(guard.authorize(request({ headers: { 'x-gateway-key': KEY } }), deploy)).resolves.toMatchObject({
      subject: 'ci-bot',
    });
    const denied = await rejection(guard.authorize(request({ headers: { 'x-gateway-key': KEY } }), admin));
    expect(httpStatusOf(denied.code)).toBe(403);
    // x-api-key is not the configured header: it is not a credential here
    expect((await rejection(guard.authorize(request({ headers: { 'x-api-key': KEY } }), deploy))).details?.reason).toBe(
      'missing_credentials',
    );
  });

  it('a wrong key is 401 invalid_token', async () => {
    const err = await rejection(
      guard.authorize(request({ headers: { 'x-gateway-key': 'nope-0123456789abcdef' } }), guard.compileRoute()),
    );
    expect(httpStatusOf(err.code)).toBe(401);
    expect(err.details).toMatchObject({ reason: 'invalid_api_key' });
    expect(err.details?.wwwAuthenticate).toContain('error="invalid_token"');
  });

  it('a bearer token and an API key together are 400 invalid_request', async () => {
    const token = await sign(new TextEncoder().encode(HS_SECRET), {}, { alg: 'HS256' });
    const err = await rejection(
      guard.authorize(
        request({ authorization: bearer(token), headers: { 'x-gateway-key': KEY } }),
        guard.compileRoute(),
      ),
    );
    expect(httpStatusOf(err.code)).toBe(400);
    expect(err.details?.wwwAuthenticate).toContain('error="invalid_request"');
  });
});
