// One rule set, two places: the gateway (route:<id>, for the bearer token's account) and
// an SDK receiver (the same resource, for the sending account) must decide alike.

import { AuthGuard, JwksKeySource } from '@switchyard/gateway';
import { type AuthRule, MemoryRuleSource, MessageGuard, TokenVerifier } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestIssuer } from '../fixtures/test-issuer.js';

let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await TestIssuer.start();
});
afterAll(() => issuer.close());

const RULES: AuthRule[] = [
  { id: 'public-status', resource: 'route:status', scope: '', access: 'granted' },
  { id: 'orders-read', resource: 'route:orders-*', scope: 'orders:read', access: 'granted' },
  { id: 'no-orders-admin', resource: 'route:orders-admin', scope: '*', access: 'denied', priority: 10 },
  { id: 'ops', resource: 'route:orders-admin', account: 'ops-bot', access: 'granted', priority: 20 },
  { id: 'tie-deny', resource: 'route:billing', scope: '*', access: 'denied', priority: 1 },
  { id: 'tie-grant', resource: 'route:billing', scope: 'billing', access: 'granted', priority: 1 },
];
const ROUTES = ['status', 'orders-list', 'orders-admin', 'billing', 'unlisted'];
const ACCOUNTS = [
  { sub: 'alice', type: 'user' as const, scopes: ['orders:read'] },
  { sub: 'bob', type: 'user' as const, scopes: [] },
  { sub: 'ops-bot', type: 'service' as const, scopes: ['orders:read'] },
  { sub: 'carol', type: 'user' as const, scopes: ['billing', 'orders:read'] },
];

describe('the same rule set gives the same decision at the gateway and in the SDK', () => {
  it('for every account and route of the matrix', async () => {
    const rules = new MemoryRuleSource(RULES);
    const gateway = new AuthGuard({
      jwt: {
        keySource: new JwksKeySource({
          url: new URL(`${issuer.issuer}/.well-known/jwks.json`),
          algorithms: ['EdDSA'],
        }),
        issuer: issuer.issuer,
        audience: 'switchyard',
      },
    });
    await gateway.start();
    gateway.useRules(rules);
    const sdk = new MessageGuard({ verifier: new TokenVerifier({ issuer: issuer.issuer }), rules });
    const decisions: string[] = [];
    for (const a of ACCOUNTS) {
      const token = await issuer.sign(a);
      for (const route of ROUTES) {
        const compiled = gateway.compileRoute({ mode: 'required' }, 'auth', route);
        const atEdge = await gateway
          .authorize({ method: 'GET', url: '/', headers: { authorization: `Bearer ${token}` } }, compiled)
          .then(
            () => 'granted',
            (e: { code: string }) => e.code,
          );
        const atService = await sdk.check({ headers: { 'x-switchyard-token': token } }, 'route', route, 0).then(
          () => 'granted',
          (e: { code: string }) => e.code,
        );
        expect(atService, `${a.sub} on ${route}`).toBe(atEdge);
        decisions.push(`${a.sub}:${route}:${atEdge}`);
      }
    }
    // The matrix is not trivially all-granted or all-denied: it exercises each rule kind.
    expect(decisions).toContain('alice:orders-list:granted');
    expect(decisions).toContain('alice:orders-admin:PERMISSION_DENIED');
    expect(decisions).toContain('ops-bot:orders-admin:granted');
    expect(decisions).toContain('carol:billing:PERMISSION_DENIED');
    expect(decisions).toContain('bob:status:granted');
    expect(decisions).toContain('bob:unlisted:PERMISSION_DENIED');
    await gateway.close();
  });
});
