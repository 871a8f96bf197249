import {
  type Account,
  type AuthRule,
  assertRule,
  checkRule,
  DEFAULT_RULES,
  MemoryRuleSource,
  RuleSet,
} from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';

const acct = (id: string, scopes: string[] = [], type: 'user' | 'service' = 'user'): Account => ({
  id,
  type,
  scopes,
  issuer: 'http://auth',
  metadata: {},
});

const rule = (r: Partial<AuthRule> & Pick<AuthRule, 'id' | 'resource' | 'access'>): AuthRule => ({ scope: '*', ...r });

describe('RuleSet (Go Micro auth.Rule semantics)', () => {
  it('with no rule matching, the answer is denied', () => {
    const rules = new RuleSet([rule({ id: 'a', resource: 'service:orders.get', access: 'granted' })]);
    expect(rules.verify(acct('u'), 'service', 'payments.charge')).toEqual({ access: 'denied', rule: undefined });
  });

  it('scope "" is public (even anonymous), "*" any account, a name that scope', () => {
    const rules = new RuleSet([
      rule({ id: 'public', resource: 'route:status', scope: '', access: 'granted' }),
      rule({ id: 'any', resource: 'route:profile', scope: '*', access: 'granted' }),
      rule({ id: 'scoped', resource: 'service:payments.charge', scope: 'payments:charge', access: 'granted' }),
    ]);
    expect(rules.verify(undefined, 'route', 'status').access).toBe('granted');
    expect(rules.verify(undefined, 'route', 'profile').access).toBe('denied');
    expect(rules.verify(acct('u'), 'route', 'profile').access).toBe('granted');
    expect(rules.verify(acct('u', ['orders:read']), 'service', 'payments.charge').access).toBe('denied');
    expect(rules.verify(acct('u', ['payments:charge']), 'service', 'payments.charge')).toEqual({
      access: 'granted',
      rule: 'scoped',
    });
  });

  it('an account rule matches only that account id', () => {
    const rules = new RuleSet([
      { id: 'only-billing', resource: 'event:invoices.*', account: 'billing', access: 'granted' },
    ]);
    expect(rules.verify(acct('billing', [], 'service'), 'event', 'invoices.paid').access).toBe('granted');
    expect(rules.verify(acct('orders', [], 'service'), 'event', 'invoices.paid').access).toBe('denied');
    expect(rules.verify(undefined, 'event', 'invoices.paid').access).toBe('denied');
  });

  it('wildcards: * in the name matches any run of characters, a bare * or *:<name> any type', () => {
    const rules = new RuleSet([
      rule({ id: 'orders', resource: 'service:orders.*', access: 'granted' }),
      rule({ id: 'gets', resource: '*:*.get', scope: 'reader', access: 'granted' }),
    ]);
    expect(rules.verify(acct('u'), 'service', 'orders.create').access).toBe('granted');
    expect(rules.verify(acct('u'), 'service', 'ordersx.create').access).toBe('denied');
    expect(rules.verify(acct('u'), 'event', 'orders.create').access).toBe('denied');
    expect(rules.verify(acct('u', ['reader']), 'event', 'stock.get').access).toBe('granted');
    // Regex characters in names are literal.
    const dots = new RuleSet([rule({ id: 'd', resource: 'service:a.b', access: 'granted' })]);
    expect(dots.verify(acct('u'), 'service', 'aXb').access).toBe('denied');
  });

  it('higher priority decides first; at equal priority denied beats granted; then id order', () => {
    const rules = new RuleSet([
      rule({ id: 'grant-all', resource: 'service:*', access: 'granted', priority: 0 }),
      rule({ id: 'deny-payments', resource: 'service:payments.*', access: 'denied', priority: 10 }),
      rule({ id: 'admins', resource: 'service:payments.*', scope: 'admin', access: 'granted', priority: 20 }),
      rule({ id: 'tie-grant', resource: 'service:stock.*', access: 'granted', priority: 5 }),
      rule({ id: 'tie-deny', resource: 'service:stock.*', access: 'denied', priority: 5 }),
    ]);
    expect(rules.verify(acct('u'), 'service', 'payments.charge')).toEqual({ access: 'denied', rule: 'deny-payments' });
    expect(rules.verify(acct('u', ['admin']), 'service', 'payments.charge')).toEqual({
      access: 'granted',
      rule: 'admins',
    });
    expect(rules.verify(acct('u'), 'service', 'orders.get')).toEqual({ access: 'granted', rule: 'grant-all' });
    expect(rules.verify(acct('u'), 'service', 'stock.get')).toEqual({ access: 'denied', rule: 'tie-deny' });
  });

  it('declaration order does not matter (the same set in any order decides the same)', () => {
    const list: AuthRule[] = [
      rule({ id: 'a', resource: 'service:*', access: 'granted' }),
      rule({ id: 'b', resource: 'service:x.*', access: 'denied' }),
      rule({ id: 'c', resource: 'service:x.y', scope: 's', access: 'granted', priority: 1 }),
    ];
    const forward = new RuleSet(list);
    const backward = new RuleSet([...list].reverse());
    for (const [who, name] of [
      [acct('u'), 'x.y'],
      [acct('u', ['s']), 'x.y'],
      [acct('u'), 'z.y'],
      [undefined, 'x.y'],
    ] as const) {
      expect(backward.verify(who, 'service', name)).toEqual(forward.verify(who, 'service', name));
    }
  });

  it('the built-in default grants any authenticated account and nobody anonymous', () => {
    const rules = RuleSet.defaults();
    expect(rules.rules).toEqual(DEFAULT_RULES);
    expect(rules.verify(acct('svc', [], 'service'), 'service', 'a.b').access).toBe('granted');
    expect(rules.verify(undefined, 'route', 'r').access).toBe('denied');
  });
});

describe('rule validation (schemas/switchyard/auth-rule.json)', () => {
  it('accepts the documented forms', () => {
    for (const r of [
      { id: 'a', resource: '*', scope: '*', access: 'granted' },
      { id: 'b', resource: 'route:orders-api', scope: '', access: 'granted', priority: 100 },
      { id: 'c', resource: 'event:orders.*', account: 'billing', access: 'denied', description: 'x' },
    ]) {
      expect(checkRule(r)).toEqual({ ok: true, rule: r });
    }
  });

  it('refuses bad rules with a pointer per problem', () => {
    const cases: Array<[unknown, string]> = [
      [{ id: 'a', resource: 'queue:x', scope: '*', access: 'granted' }, '/resource'],
      [{ id: 'a', resource: 'service:x', scope: '*', access: 'allow' }, '/access'],
      [{ id: 'a', resource: 'service:x', access: 'granted' }, ''],
      [{ id: 'a', resource: 'service:x', scope: '*', account: 'b', access: 'granted' }, ''],
      [{ id: 'a b', resource: 'service:x', scope: '*', access: 'granted' }, '/id'],
      [{ id: 'a', resource: 'service:x', scope: '*', access: 'granted', priority: 1.5 }, '/priority'],
      [{ id: 'a', resource: 'service:x', scope: '*', access: 'granted', extra: 1 }, '/extra'],
    ];
    for (const [value, pointer] of cases) {
      const r = checkRule(value);
      expect(r.ok, JSON.stringify(value)).toBe(false);
      if (!r.ok) expect(r.violations.map((v) => v.pointer)).toContain(pointer);
    }
    expect(checkRule({ id: 'a', resource: '*', scope: '*', access: 'granted' }, 'b').ok).toBe(false);
    expect(() => assertRule({ id: 'a' }, 'rules[0]')).toThrow(/rules\[0\] is invalid/);
  });
});

describe('MemoryRuleSource', () => {
  it('serves the default until rules are set, tells subscribers, and keeps the old set on a bad one', async () => {
    const source = new MemoryRuleSource();
    await source.start();
    expect(source.current().rules).toEqual(DEFAULT_RULES);
    const seen: number[] = [];
    source.subscribe((r) => seen.push(r.rules.length));
    source.set([
      { id: 'a', resource: 'service:*', scope: '*', access: 'granted' },
      { id: 'b', resource: 'service:x.*', scope: '*', access: 'denied' },
    ]);
    expect(seen).toEqual([2]);
    expect(() => source.set([{ id: 'bad' } as AuthRule])).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(source.current().rules.map((r) => r.id)).toEqual(['a', 'b']);
    source.set([]);
    expect(source.current().rules).toEqual(DEFAULT_RULES);
    await source.close();
  });
});
