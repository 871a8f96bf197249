import { ANONYMOUS, AuthGuard, httpStatusOf, StaticKeySource } from '@switchyard/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIENCE,
  bearer,
  ISSUER,
  keyPair,
  nowSec,
  rejection,
  request,
  sign,
  type TestKeyPair,
  thrown,
} from './auth-fixtures.js';

// Route auth modes: required, optional, off.
let rsa: TestKeyPair;
let guard: AuthGuard;

beforeAll(async () => {
  rsa = await keyPair('rsa-1');
  guard = new AuthGuard({
    jwt: {
      keySource: new StaticKeySource({ keys: [{ type: 'pem', kid: 'rsa-1', pem: rsa.publicPem }] }),
      issuer: ISSUER,
      audience: AUDIENCE,
    },
    apiKeys: { keys: [{ id: 'ci', key: 'ci-key-0123456789abcdef', subject: 'ci-bot', scopes: ['deploy'] }] },
  });
});
afterAll(() => guard.close());

describe('auth modes', () => {
  it('required is the default: no credential is 401', async () => {
    const route = guard.compileRoute();
    expect(route.mode).toBe('required');
    const err = await rejection(guard.authorize(request(), route));
    expect(httpStatusOf(err.code)).toBe(401);
    expect(err.details?.reason).toBe('missing_credentials');
    await expect(guard.authorize(request({ authorization: bearer(await sign(rsa)) }), route)).resolves.toMatchObject({
      method: 'jwt',
      subject: 'user-1',
    });
  });

  it('optional: no credential is anonymous, a valid one identifies, a bad one is 401', async () => {
    const route = guard.compileRoute({ mode: 'optional' });
    const anon = request();
    expect(await guard.authorize(anon, route)).toBe(ANONYMOUS);
    expect(anon.headers['x-switchyard-auth']).toBe('anonymous');
    expect(anon.headers['x-switchyard-subject']).toBeUndefined();

    await expect(guard.authorize(request({ authorization: bearer(await sign(rsa)) }), route)).resolves.toMatchObject({
      method: 'jwt',
    });
    await expect(
      guard.authorize(request({ headers: { 'x-api-key': 'ci-key-0123456789abcdef' } }), route),
    ).resolves.toMatchObject({ method: 'api-key', subject: 'ci-bot' });

    const expired = await sign(rsa, {}, { exp: nowSec() - 60, iat: nowSec() - 120 });
    for (const r of [
      request({ authorization: bearer(expired) }),
      request({ authorization: 'Bearer garbage' }),
      request({ authorization: 'Basic dXNlcjpwYXNz' }),
      request({ headers: { 'x-api-key': 'wrong-key-0123456789' } }),
    ]) {
      const err = await rejection(guard.authorize(r, route));
      expect(httpStatusOf(err.code)).toBe(401);
    }
  });

  it('optional with scopes or rules: an anonymous caller who is refused gets 401, not 403', async () => {
    const route = guard.compileRoute({ mode: 'optional', scopes: ['orders:read'] });
    const err = await rejection(guard.authorize(request(), route));
    expect(httpStatusOf(err.code)).toBe(401);
    expect(err.details?.wwwAuthenticate).toBe(
      'Bearer realm="switchyard", error_description="authentication required", scope="orders:read"',
    );
    const ruled = guard.compileRoute({
      mode: 'optional',
      rules: [{ resource: '/public/*', effect: 'allow' }],
    });
    await expect(guard.authorize(request({ url: '/public/a' }), ruled)).resolves.toBe(ANONYMOUS);
    expect(httpStatusOf((await rejection(guard.authorize(request({ url: '/private' }), ruled))).code)).toBe(401);
  });

  it('off: nothing is checked, credentials pass through untouched, identity headers are still stripped', async () => {
    const route = guard.compileRoute({ mode: 'off' });
    const req = request({
      authorization: 'Bearer not-even-a-jwt',
      headers: { 'x-switchyard-subject': 'admin', 'x-switchyard-scopes': 'admin', 'x-api-key': 'whatever' },
    });
    expect(await guard.authorize(req, route)).toBe(ANONYMOUS);
    expect(req.headers.authorization).toBe('Bearer not-even-a-jwt');
    expect(req.headers['x-api-key']).toBe('whatever');
    expect(req.headers['x-switchyard-subject']).toBeUndefined();
    expect(req.headers['x-switchyard-scopes']).toBeUndefined();
    expect(req.headers['x-switchyard-auth']).toBeUndefined();
    expect(req.rawHeaders.map((h) => h.toLowerCase())).not.toContain('x-switchyard-subject');
  });

  it('off with scopes or rules is refused at compile time; required with no credential source too', () => {
    expect(thrown(() => guard.compileRoute({ mode: 'off', scopes: ['a'] })).message).toMatch(/^auth\.mode /);
    expect(thrown(() => guard.compileRoute({ mode: 'bogus' as 'off' })).message).toMatch(/^auth\.mode /);
    const bare = new AuthGuard();
    const err = thrown(() => bare.compileRoute({ mode: 'required' }, 'routes[2].auth'));
    expect(err.code).toBe('INVALID_OPTIONS');
    expect(err.message).toMatch(/^routes\[2\]\.auth\.mode /);
    expect(bare.compileRoute({ mode: 'optional' }).mode).toBe('optional');
  });

  it('a bearer token where only API keys are configured is 401', async () => {
    const keysOnly = new AuthGuard({
      apiKeys: { keys: [{ id: 'a', key: 'a-key-0123456789abcdef', subject: 's' }] },
    });
    const err = await rejection(
      keysOnly.authorize(request({ authorization: bearer(await sign(rsa)) }), keysOnly.compileRoute()),
    );
    expect(err.details?.reason).toBe('bearer_not_accepted');
  });
});
