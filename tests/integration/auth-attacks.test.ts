/**
 * Zero trust on the real etcd and RabbitMQ, with the real auth service: every attempt to
 * reach a handler without proving who you are — a raw amqplib client with no token, an
 * expired token, a token signed by another key, a valid token used for a method its
 * scopes don't cover, a forged x-caller — is refused with the documented code before the
 * handler runs. A revoked account gets no new token; a key rotation under load loses no
 * call; a Python program following docs/protocol.md §7 gets a token and calls.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type AuthServer, createAuthServer, EtcdAuthStore } from '@switchyard/auth';
import {
  AUTH_HEADER,
  createInfrastructure,
  createService,
  type Infrastructure,
  ruleKey,
  rulesPrefix,
  type Service,
} from '@switchyard/sdk';
import amqplib from 'amqplib';
import { Etcd3 } from 'etcd3';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rawCall } from '../fixtures/amqp-broker.js';
import { issuerKey } from '../fixtures/test-issuer.js';
import { uniqueNamespace } from '../harness/servers.js';

const namespace = uniqueNamespace('auth-attacks');
const amqpUrl = inject('amqpUrl');
const etcdEndpoint = inject('etcdEndpoint');
const PYTHON = '/usr/bin/python3';
const CALLER_PY = fileURLToPath(new URL('../../examples/python/caller.py', import.meta.url));
/** Test-only hash cost: the defaults (OWASP minimum) are measured in the bench. */
const TEST_HASH = { N: 2 ** 10, r: 8, p: 1 };

let etcd: Etcd3;
let auth: AuthServer;
let issuer: string;
let infra: Infrastructure;
let payments: Service;
let orders: Service;
const secrets: Record<string, string> = {};
const runs = { charge: 0, status: 0, event: 0 };

async function token(clientId: string): Promise<string> {
  const res = await fetch(`${issuer}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secrets[clientId]}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  const body = (await res.json()) as { access_token?: string; error?: string };
  if (!body.access_token) throw new Error(`no token for ${clientId}: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

async function raw(method: string, headers: Record<string, string>) {
  const reply = await rawCall(
    amqpUrl,
    namespace,
    'payments',
    method,
    Buffer.from('{"amount":1}'),
    'application/json',
    5000,
    headers,
  );
  if (reply === 'returned') throw new Error('request was returned: nobody serves payments');
  return {
    status: reply.status,
    body: JSON.parse(reply.body.toString()) as { code?: string; details?: { reason?: string } },
  };
}

beforeAll(async () => {
  etcd = new Etcd3({ hosts: etcdEndpoint });
  auth = createAuthServer({
    store: new EtcdAuthStore({ endpoints: [etcdEndpoint], namespace }),
    masterKey: randomBytes(32),
    host: '127.0.0.1',
    port: 0,
    hashParams: TEST_HASH,
    logger: pino({ level: 'silent' }),
  });
  await auth.start();
  issuer = auth.address()!.url;
  for (const [id, scopes] of [
    ['payments', []],
    ['orders', ['payments:charge']],
    ['reader', []],
    ['revoked-svc', ['payments:charge']],
    ['py-caller', []],
  ] as Array<[string, string[]]>) {
    secrets[id] = (await auth.createAccount({ id, type: 'service', scopes })).secret;
  }
  // Charging needs its scope; everything else any account may do.
  await etcd.put(ruleKey(namespace, 'charge')).value(
    JSON.stringify({
      id: 'charge',
      resource: 'service:payments.charge',
      scope: 'payments:charge',
      access: 'granted',
      priority: 10,
    }),
  );
  await etcd.put(ruleKey(namespace, 'no-charge-otherwise')).value(
    JSON.stringify({
      id: 'no-charge-otherwise',
      resource: 'service:payments.charge',
      scope: '*',
      access: 'denied',
      priority: 5,
    }),
  );
  await etcd
    .put(ruleKey(namespace, 'rest'))
    .value(JSON.stringify({ id: 'rest', resource: '*', scope: '*', access: 'granted' }));

  infra = await createInfrastructure({
    env: {
      SWITCHYARD_ETCD: etcdEndpoint,
      SWITCHYARD_AMQP: amqpUrl,
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_SCHEMAS: 'none',
    },
    auth: { issuer },
    logger: pino({ level: 'silent' }),
  });
  payments = createService({
    name: 'payments',
    version: '1.0.0',
    infra,
    credentials: { clientId: 'payments', clientSecret: secrets.payments! },
    methods: {
      charge: {
        handler: (_p, ctx) => {
          runs.charge++;
          return { by: ctx.source, for: ctx.caller ?? null };
        },
      },
      status: {
        idempotent: true,
        handler: (_p, ctx) => {
          runs.status++;
          return { ok: true, by: ctx.identity?.service.id };
        },
      },
    },
    subscriptions: {
      'orders.created': {
        group: 'payments',
        retry: { attempts: 3, initialDelayMs: 50 },
        handler: () => {
          runs.event++;
        },
      },
    },
  });
  await payments.start();
  orders = createService({
    name: 'orders',
    version: '1.0.0',
    infra,
    credentials: { clientId: 'orders', clientSecret: secrets.orders! },
    emits: { 'orders.created': null },
  });
  await orders.start();
  // The rules must be in force before the attacks (they hot-load from etcd).
  const until = Date.now() + 5000;
  while (infra.auth!.rules.current().rules.length < 3 && Date.now() < until)
    await new Promise((r) => setTimeout(r, 20));
}, 60_000);

afterAll(async () => {
  await orders?.close();
  await payments?.close();
  await infra?.close();
  await auth?.close();
  await etcd?.delete().prefix(rulesPrefix(namespace));
  await etcd?.delete().prefix(`/${namespace}/`);
  etcd?.close();
});

describe('attacks on a service with auth on (real etcd, RabbitMQ and auth service)', () => {
  it('the legitimate caller gets through, and the handler sees who it really is', async () => {
    // No end user: the caller is the sending service itself.
    expect(await orders.call('payments.charge', { amount: 1 })).toEqual({ by: 'orders', for: 'orders' });
  });

  it('a raw amqplib client with no token is UNAUTHENTICATED (missing_token), handler not run', async () => {
    const before = { ...runs };
    const r = await raw('charge', {});
    expect(r.status).toBe('error');
    expect(r.body).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'missing_token' } });
    expect(runs).toEqual(before);
  });

  it('a forged x-caller / x-source without a token is UNAUTHENTICATED', async () => {
    const before = { ...runs };
    const r = await raw('charge', { 'x-caller': 'admin', 'x-source': 'orders' });
    expect(r.body.code).toBe('UNAUTHENTICATED');
    expect(runs).toEqual(before);
  });

  it('a valid token replayed to a method its scopes do not cover is PERMISSION_DENIED, forged x-caller or not', async () => {
    const before = { ...runs };
    const t = await token('reader');
    for (const forged of [{}, { 'x-caller': 'orders', 'x-source': 'orders' }] as Array<Record<string, string>>) {
      const r = await raw('charge', { [AUTH_HEADER.serviceToken]: t, ...forged });
      expect(r.body).toMatchObject({
        code: 'PERMISSION_DENIED',
        details: { reason: 'denied_by_rule', resource: 'service:payments.charge' },
      });
    }
    expect(runs).toEqual(before);
    // The same token may do what the rules allow.
    const ok = await raw('status', { [AUTH_HEADER.serviceToken]: t, 'x-source': 'orders' });
    expect(ok.status).toBe('ok');
    expect(ok.body).toMatchObject({ by: 'reader' });
  });

  it('a token signed by another key is UNAUTHENTICATED (its kid unknown, or its signature wrong)', async () => {
    const before = { ...runs };
    const stranger = await issuerKey('stranger');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ scope: 'payments:charge', account_type: 'service', client_id: 'orders' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'stranger', typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience('switchyard')
      .setSubject('orders')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(stranger.privateKey);
    const r = await raw('charge', { [AUTH_HEADER.serviceToken]: forged });
    expect(r.body).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'unknown_kid' } });
    // Same kid as a real key, another key's signature.
    const realKid = JSON.parse(Buffer.from((await token('reader')).split('.')[0]!, 'base64url').toString())
      .kid as string;
    const sameKid = await new SignJWT({ scope: 'payments:charge', account_type: 'service' })
      .setProtectedHeader({ alg: 'EdDSA', kid: realKid })
      .setIssuer(issuer)
      .setAudience('switchyard')
      .setSubject('orders')
      .setExpirationTime(now + 300)
      .sign(stranger.privateKey);
    const r2 = await raw('charge', { [AUTH_HEADER.serviceToken]: sameKid });
    expect(r2.body).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'bad_signature' } });
    expect(runs).toEqual(before);
  });

  it('an expired token is UNAUTHENTICATED (expired)', async () => {
    const before = { ...runs };
    const expired = await auth.issueToken('orders', { ttlSec: 1 });
    // Past exp and the verifier's 5 s clock tolerance.
    await new Promise((r) => setTimeout(r, 6_500));
    const r = await raw('charge', { [AUTH_HEADER.serviceToken]: expired });
    expect(r.body).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'expired' } });
    expect(runs).toEqual(before);
  }, 20_000);

  it('an event without a token is dead-lettered at once (refused), never handled; a signed one is handled', async () => {
    const before = runs.event;
    const conn = await amqplib.connect(amqpUrl);
    const ch = await conn.createConfirmChannel();
    ch.publish(`${namespace}.events`, 'orders.created', Buffer.from('{"n":1}'), {
      contentType: 'application/json',
      messageId: 'forged-1',
      persistent: true,
      headers: { 'x-source': 'orders', 'x-caller': 'admin' },
    });
    await ch.waitForConfirms();
    await orders.emit('orders.created', { n: 2 });
    const dlq = `${namespace}.events.payments.orders.created.dlq`;
    let letter: amqplib.GetMessage | false = false;
    const until = Date.now() + 10_000;
    while (Date.now() < until && (letter === false || runs.event === before)) {
      if (letter === false) letter = await ch.get(dlq, { noAck: true }).catch(() => false as const);
      await new Promise((r) => setTimeout(r, 50));
    }
    await conn.close();
    if (letter === false) throw new Error('the refused event never reached the dead-letter queue');
    expect(letter.properties.messageId).toBe('forged-1');
    expect(letter.properties.headers?.['x-death-reason']).toBe('refused');
    expect(letter.properties.headers?.['x-error-code']).toBe('UNAUTHENTICATED');
    expect(runs.event - before).toBe(1);
  });

  it('a revoked account cannot get a new token, from its secret or its refresh token', async () => {
    const grant = async (body: string) =>
      fetch(`${issuer}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`revoked-svc:${secrets['revoked-svc']}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body,
      });
    const first = (await (await grant('grant_type=client_credentials')).json()) as { refresh_token: string };
    await auth.revokeAccount('revoked-svc');
    for (const body of [
      'grant_type=client_credentials',
      `grant_type=refresh_token&refresh_token=${first.refresh_token}`,
    ]) {
      const res = await grant(body);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(['invalid_client', 'invalid_grant']).toContain(((await res.json()) as { error: string }).error);
    }
  });

  it('a signing-key rotation under load loses no call', async () => {
    let ok = 0;
    const failures: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          await orders.call('payments.status', {});
          ok++;
        } catch (err) {
          failures.push((err as { code?: string }).code ?? String(err));
        }
      }
    };
    const workers = Array.from({ length: 32 }, worker);
    await new Promise((r) => setTimeout(r, 300));
    const beforeRotation = ok;
    const kidOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).kid as string;
    const oldKid = kidOf(await token('reader'));
    const rotated = await auth.rotateKeys();
    // The caller's next token is signed with the new key; receivers must fetch the new JWKS on the fly.
    await orders.renewToken();
    const newKid = kidOf(await token('reader'));
    await new Promise((r) => setTimeout(r, 700));
    stop = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(beforeRotation).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(beforeRotation);
    expect(newKid).toBe(rotated);
    expect(newKid).not.toBe(oldKid);
    // The old key is still published: tokens it signed stay valid until they expire.
    const jwks = (await (await fetch(`${issuer}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
  });

  it('a Python program following docs/protocol.md §7 gets a token and calls; without credentials it cannot', async () => {
    const run = async (env: Record<string, string>) => {
      const child = spawn(
        PYTHON,
        [CALLER_PY, 'call', 'payments', 'status', '{}', '--namespace', namespace, '--amqp', amqpUrl],
        {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      const [code] = (await once(child, 'exit')) as [number];
      return { code, out };
    };
    const good = await run({
      SWITCHYARD_AUTH_URL: issuer,
      SWITCHYARD_CLIENT_ID: 'py-caller',
      SWITCHYARD_CLIENT_SECRET: secrets['py-caller']!,
    });
    expect(good.code).toBe(0);
    expect(JSON.parse(good.out)).toEqual({ ok: true, by: 'py-caller' });
    const anonymous = await run({ SWITCHYARD_AUTH_URL: '' });
    expect(anonymous.code).toBe(1);
    expect(JSON.parse(anonymous.out)).toMatchObject({ code: 'UNAUTHENTICATED' });
    const wrong = await run({
      SWITCHYARD_AUTH_URL: issuer,
      SWITCHYARD_CLIENT_ID: 'py-caller',
      SWITCHYARD_CLIENT_SECRET: 'nope',
    });
    expect(wrong.code).toBe(2);
  });
});
