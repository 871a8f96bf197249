/**
 * The gateway with auth on (real etcd, RabbitMQ and auth service): it verifies the auth
 * service's tokens, applies the shared rules to routes, bridges RPC with its own service
 * token and the caller's token beside it, and gives HTTP upstreams the same two tokens;
 * tokens a client sends in those headers never reach a service.
 */
import { randomBytes } from 'node:crypto';
import { type AuthServer, createAuthServer, EtcdAuthStore } from '@switchyard/auth';
import { routeKey } from '@switchyard/gateway';
import {
  AUTH_HEADER,
  createInfrastructure,
  createService,
  type Infrastructure,
  ruleKey,
  type Service,
  TokenVerifier,
} from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, type RunningGateway, send, startGateway } from '../fixtures/gateway-harness.js';
import { startUpstream, type TestUpstream } from '../fixtures/upstream-servers.js';
import { uniqueNamespace } from '../harness/servers.js';

const namespace = uniqueNamespace('gw-identity');
const etcdEndpoint = inject('etcdEndpoint');
const quiet = pino({ level: 'silent' });
let etcd: Etcd3;
let auth: AuthServer;
let issuer: string;
let infra: Infrastructure;
let payments: Service;
let web: Service;
let upstream: TestUpstream;
let gw: RunningGateway;
let alice: string;
let ops: string;
const seen: Array<{ service?: string; user?: string; caller?: string }> = [];

async function userToken(id: string, secret: string): Promise<string> {
  const res = await fetch(`${issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=client_credentials&client_id=${id}&client_secret=${encodeURIComponent(secret)}`,
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  etcd = new Etcd3({ hosts: etcdEndpoint });
  auth = createAuthServer({
    store: new EtcdAuthStore({ endpoints: [etcdEndpoint], namespace }),
    masterKey: randomBytes(32),
    port: 0,
    hashParams: { N: 2 ** 10, r: 8, p: 1 },
    logger: quiet,
  });
  await auth.start();
  issuer = auth.address()!.url;
  const secret = async (id: string, type: 'user' | 'service', scopes: string[] = []) =>
    (await auth.createAccount({ id, type, scopes })).secret;
  const creds = {
    gateway: await secret('gateway', 'service'),
    payments: await secret('payments', 'service'),
    web: await secret('web', 'service'),
  };
  alice = await userToken('alice', await secret('alice', 'user', ['payments:charge']));
  ops = await userToken('ops', await secret('ops', 'user', ['admin']));
  for (const rule of [
    { id: 'all', resource: '*', scope: '*', access: 'granted' },
    { id: 'admin-only', resource: 'route:admin', scope: 'admin', access: 'granted', priority: 10 },
    { id: 'no-admin', resource: 'route:admin', scope: '*', access: 'denied', priority: 5 },
  ]) {
    await etcd.put(ruleKey(namespace, rule.id)).value(JSON.stringify(rule));
  }
  infra = await createInfrastructure({
    env: {
      SWITCHYARD_ETCD: etcdEndpoint,
      SWITCHYARD_AMQP: inject('amqpUrl'),
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_SCHEMAS: 'none',
    },
    auth: { issuer },
    logger: quiet,
    registryTtlSeconds: 2,
  });
  payments = createService({
    name: 'payments',
    version: '1.0.0',
    infra,
    credentials: { clientId: 'payments', clientSecret: creds.payments },
    methods: {
      charge: (_p: unknown, ctx) => {
        seen.push({ service: ctx.identity?.service.id, user: ctx.identity?.user?.id, caller: ctx.caller });
        return { ok: true };
      },
    },
  });
  await payments.start();
  upstream = await startUpstream('web');
  web = createService({
    name: 'web',
    version: '1.0.0',
    infra,
    credentials: { clientId: 'web', clientSecret: creds.web },
    address: { http: upstream.url },
  });
  await web.start();
  const routes = [
    {
      id: 'charge',
      match: { path: '/api/charge', methods: ['POST'] },
      target: { type: 'rpc', service: 'payments', method: 'charge' },
    },
    {
      id: 'admin',
      match: { path: '/api/admin', methods: ['POST'] },
      target: { type: 'rpc', service: 'payments', method: 'charge' },
    },
    { id: 'web', match: { path: '/web/*' }, target: { type: 'http', service: 'web' } },
  ];
  for (const r of routes) await etcd.put(routeKey(namespace, r.id)).value(JSON.stringify(r));
  gw = await startGateway({ infra, credentials: { clientId: 'gateway', clientSecret: creds.gateway } });
  await eventually(async () =>
    expect((await send(gw.url, '/web/x', { headers: { authorization: `Bearer ${alice}` } })).status).toBe(200),
  );
}, 60_000);

afterAll(async () => {
  await gw?.gateway.close();
  await web?.close();
  await payments?.close();
  await upstream?.close();
  await infra?.close();
  await auth?.close();
  await etcd?.delete().prefix(`/${namespace}/`);
  etcd?.close();
});

const post = (path: string, token?: string, extra: Record<string, string> = {}) =>
  send(gw.url, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra },
    body: '{}',
  });

describe('gateway with service identity', () => {
  it('bridges RPC as itself, for the verified user: the service sees both from tokens', async () => {
    const r = await post('/api/charge', alice, { 'x-switchyard-token': 'forged', 'x-switchyard-user-token': 'forged' });
    expect(r.status).toBe(200);
    expect(seen.at(-1)).toEqual({ service: 'gateway', user: 'alice', caller: 'alice' });
  });

  it('applies the shared rules to routes: route:admin only with the admin scope', async () => {
    expect((await post('/api/admin', alice)).status).toBe(403);
    expect((await post('/api/admin', alice)).json()).toMatchObject({
      code: 'PERMISSION_DENIED',
      details: { reason: 'denied_by_rule' },
    });
    expect((await post('/api/admin', ops)).status).toBe(200);
    expect((await post('/api/admin')).status).toBe(401);
  });

  it('refuses tokens the auth service did not sign', async () => {
    const r = await post('/api/charge', `${alice.slice(0, -4)}AAAA`);
    expect(r.status).toBe(401);
  });

  it('gives HTTP upstreams its own token and the user token, never a client-sent one', async () => {
    const before = upstream.seen.length;
    const r = await send(gw.url, '/web/page', {
      headers: {
        authorization: `Bearer ${alice}`,
        'x-switchyard-token': 'forged',
        'x-switchyard-user-token': 'forged',
      },
    });
    expect(r.status).toBe(200);
    const got = upstream.seen.slice(before).at(-1)!;
    const verifier = new TokenVerifier({ issuer });
    expect((await verifier.verify(got.headers[AUTH_HEADER.serviceToken] as string)).id).toBe('gateway');
    expect(got.headers[AUTH_HEADER.userToken]).toBe(alice);
    expect(got.rawHeaders.filter((h) => h.toLowerCase() === AUTH_HEADER.serviceToken)).toHaveLength(1);
  });
});
