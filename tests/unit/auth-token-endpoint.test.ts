import { randomBytes } from 'node:crypto';
import { type AuthServer, createAuthServer, MemoryAuthStore } from '@switchyard/auth';
import { TokenVerifier } from '@switchyard/sdk';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TEST_HASH = { N: 2 ** 10, r: 8, p: 1 };
let server: AuthServer;
let url: string;
let secret: string;

beforeAll(async () => {
  server = createAuthServer({
    store: new MemoryAuthStore(),
    masterKey: randomBytes(32),
    port: 0,
    hashParams: TEST_HASH,
    logger: pino({ level: 'silent' }),
  });
  await server.start();
  url = server.address()!.url;
  secret = (await server.createAccount({ id: 'svc', type: 'service', scopes: ['a', 'b'], metadata: { team: 't1' } }))
    .secret;
  await server.createAccount({ id: 'alice', type: 'user', scopes: ['orders:read'], secret: 'alice-secret-0123456789' });
});
afterAll(() => server.close());

const basic = (id: string, s: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(s)}`).toString('base64')}`;

async function post(body: string, headers: Record<string, string> = {}, path = '/oauth/token') {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('POST /oauth/token: client credentials (RFC 6749 §4.4)', () => {
  it('issues an at+jwt any JWT library verifies from the discovery document, plus a refresh token', async () => {
    const r = await post('grant_type=client_credentials', { authorization: basic('svc', secret) });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'a b' });
    expect(typeof r.body.refresh_token).toBe('string');
    const discovery = (await (await fetch(`${url}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    expect(discovery).toMatchObject({
      issuer: url,
      token_endpoint: `${url}/oauth/token`,
      jwks_uri: `${url}/.well-known/jwks.json`,
    });
    const { payload, protectedHeader } = await jwtVerify(
      r.body.access_token as string,
      createRemoteJWKSet(new URL(discovery.jwks_uri!)),
      {
        issuer: discovery.issuer,
        audience: 'switchyard',
      },
    );
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    expect(payload).toMatchObject({
      sub: 'svc',
      client_id: 'svc',
      scope: 'a b',
      account_type: 'service',
      metadata: { team: 't1' },
    });
    expect(typeof payload.jti).toBe('string');
    expect(await (await fetch(`${url}/.well-known/oauth-authorization-server`)).json()).toEqual(discovery);
  });

  it('takes the credentials in the body too, and narrows to a requested subset of scopes', async () => {
    const r = await post(
      `grant_type=client_credentials&client_id=svc&client_secret=${encodeURIComponent(secret)}&scope=b`,
    );
    expect(r.status).toBe(200);
    expect(r.body.scope).toBe('b');
    const account = await server.inspect(r.body.access_token as string);
    expect(account).toMatchObject({ id: 'svc', type: 'service', scopes: ['a', 'b'] });
  });

  it('answers every malformed request with an RFC 6749 §5.2 body and the right status', async () => {
    const good = basic('svc', secret);
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['grant_type=client_credentials', { authorization: basic('svc', 'wrong') }, 401, 'invalid_client'],
      ['grant_type=client_credentials', { authorization: basic('nobody', 'x') }, 401, 'invalid_client'],
      ['grant_type=client_credentials', {}, 401, 'invalid_client'],
      ['grant_type=client_credentials', { authorization: 'Basic !!!' }, 401, 'invalid_client'],
      ['grant_type=client_credentials', { authorization: 'Bearer abc' }, 401, 'invalid_client'],
      [`grant_type=client_credentials&client_secret=${secret}`, { authorization: good }, 400, 'invalid_request'],
      ['', { authorization: good }, 400, 'invalid_request'],
      ['grant_type=password&username=a&password=b', { authorization: good }, 400, 'unsupported_grant_type'],
      ['grant_type=client_credentials&scope=c', { authorization: good }, 400, 'invalid_scope'],
      ['grant_type=client_credentials&grant_type=client_credentials', { authorization: good }, 400, 'invalid_request'],
      ['grant_type=refresh_token', { authorization: good }, 400, 'invalid_request'],
      ['grant_type=refresh_token&refresh_token=made-up', { authorization: good }, 400, 'invalid_grant'],
      ['grant_type=client_credentials', { authorization: good, 'content-type': 'text/plain' }, 400, 'invalid_request'],
      ['{not json', { authorization: good, 'content-type': 'application/json' }, 400, 'invalid_request'],
      ['x'.repeat(20_000), { authorization: good }, 413, 'invalid_request'],
    ];
    for (const [body, headers, status, error] of cases) {
      const r = await post(body, headers);
      expect([r.status, r.body.error], `${body.slice(0, 40)} ${JSON.stringify(headers)}`).toEqual([status, error]);
      expect(typeof r.body.error_description).toBe('string');
    }
    const challenged = await post('grant_type=client_credentials', { authorization: basic('svc', 'wrong') });
    expect(challenged.headers.get('www-authenticate')).toBe('Basic realm="switchyard"');
    const get = await fetch(`${url}/oauth/token`);
    expect(get.status).toBe(405);
    expect(((await get.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('refresh tokens', () => {
  it('rotate on use; reusing a used one revokes the whole chain', async () => {
    const auth = { authorization: basic('alice', 'alice-secret-0123456789') };
    const first = await post('grant_type=client_credentials', auth);
    const second = await post(`grant_type=refresh_token&refresh_token=${first.body.refresh_token}`, auth);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
    const replay = await post(`grant_type=refresh_token&refresh_token=${first.body.refresh_token}`, auth);
    expect([replay.status, replay.body.error]).toEqual([400, 'invalid_grant']);
    // The thief's replay also killed the legitimate holder's current token.
    const third = await post(`grant_type=refresh_token&refresh_token=${second.body.refresh_token}`, auth);
    expect(third.body.error).toBe('invalid_grant');
  });

  it('of two concurrent uses of one refresh token exactly one succeeds', async () => {
    const auth = { authorization: basic('svc', secret) };
    const first = await post('grant_type=client_credentials', auth);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => post(`grant_type=refresh_token&refresh_token=${first.body.refresh_token}`, auth)),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it('belong to their client, and are revocable (RFC 7009)', async () => {
    const mine = await post('grant_type=client_credentials', { authorization: basic('svc', secret) });
    const other = await post(`grant_type=refresh_token&refresh_token=${mine.body.refresh_token}`, {
      authorization: basic('alice', 'alice-secret-0123456789'),
    });
    expect(other.body.error).toBe('invalid_grant');
    const revoked = await post(
      `token=${mine.body.refresh_token}`,
      { authorization: basic('svc', secret) },
      '/oauth/revoke',
    );
    expect(revoked.status).toBe(200);
    const after = await post(`grant_type=refresh_token&refresh_token=${mine.body.refresh_token}`, {
      authorization: basic('svc', secret),
    });
    expect(after.body.error).toBe('invalid_grant');
  });
});

describe('accounts', () => {
  it('never store the secret, and a revoked account gets no token from either grant', async () => {
    const { secret: s } = await server.createAccount({ id: 'temp', type: 'service' });
    const listed = (await server.listAccounts()).find((a) => a.id === 'temp');
    expect(JSON.stringify(listed)).not.toContain(s);
    expect(listed).not.toHaveProperty('secretHash');
    const auth = { authorization: basic('temp', s) };
    const first = await post('grant_type=client_credentials', auth);
    await server.revokeAccount('temp');
    expect((await post('grant_type=client_credentials', auth)).body.error).toBe('invalid_client');
    expect((await post(`grant_type=refresh_token&refresh_token=${first.body.refresh_token}`, auth)).body.error).toBe(
      'invalid_client',
    );
  });

  it('refuse bad ids, types and duplicates with a clear code', async () => {
    await expect(server.createAccount({ id: 'Bad Id', type: 'user' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(server.createAccount({ id: 'x', type: 'admin' as 'user' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(server.createAccount({ id: 'svc', type: 'service' })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
  });
});

describe('hashing runs off the event loop', () => {
  it('the JWKS answers while grants with a costly hash are in flight', async () => {
    const slow = createAuthServer({
      store: new MemoryAuthStore(),
      masterKey: randomBytes(32),
      port: 0,
      hashParams: { N: 2 ** 15, r: 8, p: 4 },
      logger: pino({ level: 'silent' }),
    });
    await slow.start();
    const s = (await slow.createAccount({ id: 'slow', type: 'service' })).secret;
    const order: string[] = [];
    const grants = Array.from({ length: 4 }, (_, i) =>
      fetch(`${slow.address()!.url}/oauth/token`, {
        method: 'POST',
        headers: { authorization: basic('slow', s), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      }).then(() => order.push(`grant${i}`)),
    );
    await new Promise((r) => setTimeout(r, 5));
    await fetch(`${slow.address()!.url}/.well-known/jwks.json`).then(() => order.push('jwks'));
    await Promise.all(grants);
    // Were scrypt on the event loop, the JWKS request would wait behind every grant.
    expect(order.indexOf('jwks')).toBeLessThan(order.length - 1);
    await slow.close();
  });
});

describe('verification by a receiver', () => {
  it('the SDK verifier accepts the service token and reads its account', async () => {
    const r = await post('grant_type=client_credentials', { authorization: basic('svc', secret) });
    const v = new TokenVerifier({ issuer: url });
    expect(await v.verify(r.body.access_token as string)).toMatchObject({
      id: 'svc',
      type: 'service',
      scopes: ['a', 'b'],
    });
    expect(decodeProtectedHeader(r.body.access_token as string).kid).toBeTruthy();
  });
});
