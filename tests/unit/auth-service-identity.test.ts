import { MemoryTransport } from '@switchyard/broker';
import { AUTH_HEADER, MemoryRuleSource, MessageGuard, SecuredTransport, TokenVerifier } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issuerKey, TestIssuer } from '../fixtures/test-issuer.js';
import { rejection } from '../harness/rejection.js';

let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await TestIssuer.start();
});
afterAll(() => issuer.close());

const verifier = () => new TokenVerifier({ issuer: issuer.issuer });

describe('TokenVerifier', () => {
  it('reads the account from a valid token, and checks it once (cached until expiry)', async () => {
    const v = verifier();
    const token = await issuer.sign({ sub: 'payments', scopes: ['a', 'b'], extra: { metadata: { team: 'x' } } });
    const before = issuer.jwksRequests;
    const a = await v.verify(token);
    expect(a).toEqual({
      id: 'payments',
      type: 'service',
      scopes: ['a', 'b'],
      issuer: issuer.issuer,
      metadata: { team: 'x' },
    });
    expect(await v.verify(token)).toBe(a);
    expect(issuer.jwksRequests - before).toBe(1);
  });

  it('refuses expired, foreign-key, wrong-issuer, wrong-audience and malformed tokens with a reason', async () => {
    const v = verifier();
    const stranger = await issuerKey('k1'); // same kid, another key: the signature must fail
    const unknown = await issuerKey('nobody');
    const cases: Array<[Promise<string> | string, string]> = [
      [issuer.sign({ sub: 's', expiresIn: -60 }), 'expired'],
      [issuer.sign({ sub: 's', key: stranger }), 'bad_signature'],
      [issuer.sign({ sub: 's', key: unknown }), 'unknown_kid'],
      [issuer.sign({ sub: 's', iss: 'http://evil' }), 'wrong_issuer'],
      [issuer.sign({ sub: 's', aud: 'other' }), 'wrong_audience'],
      [issuer.sign({ sub: 's', extra: { account_type: 'admin' } }), 'invalid_claim'],
      ['not.a.jwt', 'malformed_token'],
      ['eyJhbGciOiJub25lIn0.eyJzdWIiOiJzIn0.', 'alg_not_allowed'],
    ];
    for (const [token, reason] of cases) {
      const err = await rejection(v.verify(await token));
      expect(err.code, reason).toBe('UNAUTHENTICATED');
      expect((err.details as { reason: string }).reason).toBe(reason);
    }
  });

  it('accepts a recently expired token only within the grace given (events)', async () => {
    const v = verifier();
    const token = await issuer.sign({ sub: 's', expiresIn: -60 });
    expect((await v.verify(token, 3600)).id).toBe('s');
    expect((await rejection(v.verify(token, 0))).code).toBe('UNAUTHENTICATED');
    expect((await rejection(v.verify(token, 10))).code).toBe('UNAUTHENTICATED');
  });

  it('a key rotation costs one JWKS refetch, not a failed call', async () => {
    const v = new TokenVerifier({ issuer: issuer.issuer, jwksCooldownMs: 0 });
    await v.verify(await issuer.sign({ sub: 's' }));
    const old = issuer.current;
    await issuer.rotate(`k-${Date.now()}`);
    const before = issuer.jwksRequests;
    const fresh = await issuer.sign({ sub: 's' });
    expect((await v.verify(fresh)).id).toBe('s');
    expect(issuer.jwksRequests - before).toBe(1);
    expect((await v.verify(await issuer.sign({ sub: 't', key: old }))).id).toBe('t');
  });

  it('UNAVAILABLE (not UNAUTHENTICATED) when the JWKS cannot be fetched', async () => {
    const v = new TokenVerifier({ issuer: issuer.issuer, jwksUrl: 'http://127.0.0.1:9/jwks.json' });
    const err = await rejection(v.verify(await issuer.sign({ sub: 's' })));
    expect(err.code).toBe('UNAVAILABLE');
  });
});

describe('SecuredTransport over the memory transport', () => {
  async function setup(rules = new MemoryRuleSource()) {
    const inner = new MemoryTransport({ namespace: `auth-${Math.random().toString(36).slice(2)}` });
    await inner.start();
    const guard = new MessageGuard({ verifier: verifier(), rules });
    const serviceToken = await issuer.sign({ sub: 'orders', scopes: ['payments:charge'] });
    const orders = new SecuredTransport(inner, { identity: { token: () => serviceToken }, guard });
    const payments = new SecuredTransport(inner, {
      identity: { token: () => 'unused' },
      guard,
    });
    let runs = 0;
    const seen: Array<Record<string, string>> = [];
    await payments.serve('payments', {
      charge: {
        handler: (req) => {
          runs++;
          seen.push({ ...req.headers });
          return { ok: true };
        },
      },
    });
    return { inner, orders, guard, runs: () => runs, seen, close: () => inner.close() };
  }

  it('a call carries the token; the receiver sees verified x-source/x-caller, not what the sender wrote', async () => {
    const t = await setup();
    const user = await issuer.sign({ sub: 'alice', type: 'user' });
    expect(
      await t.orders.call(
        'payments',
        'charge',
        {},
        { headers: { 'x-caller': 'admin', 'x-source': 'root', [AUTH_HEADER.userToken]: user } },
      ),
    ).toEqual({ ok: true });
    expect(t.seen[0]!['x-source']).toBe('orders');
    expect(t.seen[0]!['x-caller']).toBe('alice');
    await t.orders.call('payments', 'charge', {}, { headers: { 'x-caller': 'admin' } });
    expect(t.seen[1]!['x-caller']).toBeUndefined();
    await t.close();
  });

  it('a raw call with no token, a forged x-caller or a bad user token never reaches the handler', async () => {
    const t = await setup();
    const noToken = await rejection(t.inner.call('payments', 'charge', {}, { headers: { 'x-caller': 'admin' } }));
    expect(noToken.code).toBe('UNAUTHENTICATED');
    expect((noToken.details as { reason: string }).reason).toBe('missing_token');
    const expiredUser = await issuer.sign({ sub: 'alice', type: 'user', expiresIn: -60 });
    const badUser = await rejection(
      t.orders.call('payments', 'charge', {}, { headers: { [AUTH_HEADER.userToken]: expiredUser } }),
    );
    expect(badUser.code).toBe('UNAUTHENTICATED');
    expect(t.runs()).toBe(0);
    await t.close();
  });

  it('rules are checked for the user when there is one, else for the sending service', async () => {
    const rules = new MemoryRuleSource([
      { id: 'charge', resource: 'service:payments.charge', scope: 'payments:charge', access: 'granted' },
    ]);
    const t = await setup(rules);
    // The sending service holds payments:charge ...
    expect(await t.orders.call('payments', 'charge', {})).toEqual({ ok: true });
    // ... but a user without it cannot use the service as a proxy.
    const user = await issuer.sign({ sub: 'mallory', type: 'user', scopes: ['orders:read'] });
    const denied = await rejection(
      t.orders.call('payments', 'charge', {}, { headers: { [AUTH_HEADER.userToken]: user } }),
    );
    expect(denied.code).toBe('PERMISSION_DENIED');
    expect(denied.details).toMatchObject({ reason: 'denied_by_rule', resource: 'service:payments.charge' });
    expect(t.runs()).toBe(1);
    await t.close();
  });

  it('an event from a sender without a token is dead-lettered at once (reason refused), never handled', async () => {
    const inner = new MemoryTransport({ namespace: `auth-ev-${Math.random().toString(36).slice(2)}` });
    await inner.start();
    const guard = new MessageGuard({ verifier: verifier(), rules: new MemoryRuleSource() });
    const token = await issuer.sign({ sub: 'orders' });
    const secured = new SecuredTransport(inner, { identity: { token: () => token }, guard });
    const handled: string[] = [];
    const sub = await secured.subscribe('orders.created', (e) => void handled.push(e.headers['x-source']!), {
      group: 'g',
      retry: { attempts: 5, initialDelayMs: 10 },
    });
    await inner.publish('orders.created', { n: 1 }, { source: 'orders' });
    await secured.publish('orders.created', { n: 2 });
    for (let i = 0; i < 100 && (handled.length < 1 || inner.deadLetters(sub.deadLetterQueue).length < 1); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(handled).toEqual(['orders']);
    const letters = inner.deadLetters(sub.deadLetterQueue);
    expect(letters.map((l) => [l.payload, l.headers['x-death-reason'], l.headers['x-error-code']])).toEqual([
      [{ n: 1 }, 'refused', 'UNAUTHENTICATED'],
    ]);
    await sub.close();
    await inner.close();
  });
});
