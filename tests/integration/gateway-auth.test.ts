import { routeKey, StaticKeySource } from '@switchyard/gateway';
import type { Infrastructure } from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  eventually,
  type RunningGateway,
  send,
  serversInfra,
  startGateway,
  startUpstream,
  type TestUpstream,
} from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';
import { AUDIENCE, b64url, ISSUER, keyPair, nowSec, sign, type TestKeyPair } from '../unit/auth-fixtures.js';

// The JWT attack set through a running gateway (routes in etcd, the upstream found in the
// etcd registry): each hostile token gets the right status and reason, and none of them
// ever reaches the upstream — counted on the upstream itself.

const namespace = uniqueNamespace('gw-auth');
let etcd: Etcd3;
let infra: Infrastructure;
let orders: TestUpstream;
let gw: RunningGateway;
let rsa: TestKeyPair;
let otherRsa: TestKeyPair;

beforeAll(async () => {
  etcd = new Etcd3({ hosts: inject('etcdEndpoint') });
  rsa = await keyPair('rsa-1');
  otherRsa = await keyPair('rsa-1'); // same kid, another key: a forgery
  infra = await serversInfra({ etcd: inject('etcdEndpoint'), amqp: inject('amqpUrl'), namespace });
  orders = await startUpstream('orders');
  await orders.register(infra.registry, 'orders');
  const routes = [
    {
      id: 'orders',
      match: { path: '/api/orders/*', methods: ['GET'] },
      target: { type: 'http', service: 'orders', stripPrefix: '/api' },
      auth: { mode: 'required', scopes: ['orders:read'] },
    },
    {
      id: 'public',
      match: { path: '/public/*' },
      target: { type: 'http', service: 'orders' },
      auth: { mode: 'off' },
    },
  ];
  for (const r of routes) await etcd.put(routeKey(namespace, r.id)).value(JSON.stringify(r));
  gw = await startGateway({
    infra,
    auth: {
      jwt: {
        keySource: new StaticKeySource({ keys: [{ type: 'pem', kid: 'rsa-1', pem: rsa.publicPem }] }),
        issuer: ISSUER,
        audience: AUDIENCE,
        clockToleranceSec: 0,
      },
    },
  });
  await eventually(async () => expect((await send(gw.url, '/public/ping')).status).toBe(200));
});

afterAll(async () => {
  await gw?.gateway.close();
  await orders?.close();
  await infra?.close();
  await etcd?.delete().prefix(`/${namespace}/`);
  etcd?.close();
});

const withToken = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const readScope = { scope: 'orders:read' };

describe('JWT attacks through the gateway', () => {
  const attacks: Array<[string, () => Promise<string | undefined>, number, string]> = [
    [
      'alg none',
      async () =>
        `Bearer ${new UnsecuredJWT({ sub: 'admin', ...readScope }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').encode()}`,
      401,
      'alg_not_allowed',
    ],
    [
      'HS256 signed with the RS256 public key',
      async () =>
        `Bearer ${await sign(new TextEncoder().encode(rsa.publicPem), readScope, { alg: 'HS256', kid: 'rsa-1' })}`,
      401,
      'alg_not_allowed',
    ],
    ['expired', async () => `Bearer ${await sign(rsa, readScope, { exp: nowSec() - 60 })}`, 401, 'expired'],
    [
      'not yet valid',
      async () => `Bearer ${await sign(rsa, readScope, { nbf: nowSec() + 600 })}`,
      401,
      'not_yet_valid',
    ],
    [
      'wrong issuer',
      async () => `Bearer ${await sign(rsa, readScope, { iss: 'https://evil.test' })}`,
      401,
      'wrong_issuer',
    ],
    [
      'wrong audience',
      async () => `Bearer ${await sign(rsa, readScope, { aud: 'another-api' })}`,
      401,
      'wrong_audience',
    ],
    [
      'forged signature (other key, same kid)',
      async () => `Bearer ${await sign(otherRsa, readScope)}`,
      401,
      'bad_signature',
    ],
    ['garbage', async () => 'Bearer not.a.jwt', 401, 'malformed_token'],
    ['garbage JSON', async () => `Bearer ${b64url('{')}.${b64url('{}')}.c2ln`, 401, 'malformed_token'],
    [
      'Basic credentials',
      async () => `Basic ${Buffer.from('admin:admin').toString('base64')}`,
      401,
      'unsupported_scheme',
    ],
    ['no credentials', async () => undefined, 401, 'missing_credentials'],
    ['missing scope', async () => `Bearer ${await sign(rsa, { scope: 'orders:write' })}`, 403, 'insufficient_scope'],
  ];

  for (const [what, token, status, reason] of attacks) {
    it(`${what} -> ${status} ${reason}, never proxied`, async () => {
      const hits = orders.seen.length;
      const authorization = await token();
      const r = await send(gw.url, '/api/orders/1', authorization ? { headers: { authorization } } : {});
      expect(r.status).toBe(status);
      const body = r.json();
      expect(body.code).toBe(status === 401 ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED');
      expect(body.details.reason).toBe(reason);
      expect(body.requestId).toBe(r.headers['x-request-id']);
      // RFC 6750 §3.1: the challenge goes in the header on a 401 and on a 403 (insufficient_scope).
      expect(r.headers['www-authenticate']).toMatch(/^Bearer realm="switchyard"/);
      if (status === 403) {
        expect(r.headers['www-authenticate']).toContain('error="insufficient_scope"');
        expect(r.headers['www-authenticate']).toContain('scope="orders:read"');
      }
      expect(orders.seen.length).toBe(hits);
    });
  }

  it('the control: a valid token reaches the upstream, with the verified identity', async () => {
    const hits = orders.seen.length;
    const r = await send(gw.url, '/api/orders/7', withToken(await sign(rsa, readScope, { sub: 'alice' })));
    expect(r.status).toBe(200);
    expect(orders.seen.length).toBe(hits + 1);
    const seen = orders.seen.at(-1)!;
    expect(seen.url).toBe('/orders/7');
    expect(seen.headers['x-switchyard-subject']).toBe('alice');
    expect(seen.headers['x-switchyard-scopes']).toBe('orders:read');
    expect(seen.headers.authorization).toBeUndefined();
  });
});

describe('identity headers', () => {
  const spoofed = {
    'x-switchyard-subject': 'root',
    'X-Switchyard-Scopes': 'admin',
    'x-switchyard-auth': 'jwt',
    'x-switchyard-claims': b64url({ sub: 'root' }),
  };

  it('spoofed identity headers are replaced by the verified ones', async () => {
    const token = await sign(rsa, readScope, { sub: 'bob' });
    const r = await send(gw.url, '/api/orders/9', { headers: { ...spoofed, authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    const h = orders.seen.at(-1)!.headers;
    expect(h['x-switchyard-subject']).toBe('bob');
    expect(h['x-switchyard-scopes']).toBe('orders:read');
    expect(JSON.parse(Buffer.from(h['x-switchyard-claims'] as string, 'base64url').toString())).toMatchObject({
      sub: 'bob',
      iss: ISSUER,
    });
  });

  it('are stripped on routes without auth too', async () => {
    const r = await send(gw.url, '/public/x', { headers: spoofed });
    expect(r.status).toBe(200);
    const h = orders.seen.at(-1)!.headers;
    for (const name of Object.keys(spoofed)) expect(h[name.toLowerCase()]).toBeUndefined();
  });
});
