import {
  type AccessRule,
  AccessRules,
  AuthGuard,
  httpStatusOf,
  PathPattern,
  pathSegments,
  StaticKeySource,
} from '@switchyard/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, HS_SECRET, rejection, request, sign, thrown } from './auth-fixtures.js';

// Access rules: path patterns, priority order, first match wins, default deny.
const seg = (p: string) => pathSegments(p)!;

describe('PathPattern', () => {
  it('matches literals, :param (one segment) and * (one segment; the rest when last)', () => {
    const cases: [string, string, boolean][] = [
      ['/orders', '/orders', true],
      ['/orders', '/orders/1', false],
      ['/orders/:id', '/orders/42', true],
      ['/orders/:id', '/orders', false],
      ['/orders/:id', '/orders/42/items', false],
      ['/orders/*', '/orders/42', true],
      ['/orders/*', '/orders/42/items/7', true],
      ['/orders/*', '/orders', false],
      ['/users/*/orders', '/users/7/orders', true],
      ['/users/*/orders', '/users/7/8/orders', false],
      ['/users/:uid/orders/:oid', '/users/7/orders/9', true],
      ['/', '/', true],
      ['/', '/x', false],
      ['/*', '/x/y', true],
      ['/Orders', '/orders', false],
      ['/v1/things:batch', '/v1/things:batch', true],
      ['/caf%C3%A9', '/café', true],
    ];
    for (const [pattern, path, expected] of cases) {
      expect(new PathPattern(pattern).matches(seg(path)), `${pattern} vs ${path}`).toBe(expected);
    }
  });

  it('normalises paths the way a lenient router would, and makes dot segments unmatchable', () => {
    expect(pathSegments('/orders//1/?x=1#f')).toEqual(['orders', '1']);
    expect(pathSegments('/a%2Fb/c')).toEqual(['a/b', 'c']);
    expect(pathSegments('http://gw.test/orders/1?q')).toEqual(['orders', '1']);
    for (const bad of ['/orders/../admin', '/orders/%2e%2e/admin', '/./x', '/bad%zz', 'orders', '*']) {
      expect(pathSegments(bad), bad).toBeUndefined();
    }
  });

  it('refuses invalid patterns naming the option', () => {
    expect(thrown(() => new PathPattern('orders', 'rules[0].resource')).message).toMatch(/^rules\[0\]\.resource /);
    expect(thrown(() => new PathPattern('/files/*.png', 'r')).code).toBe('INVALID_OPTIONS');
    expect(thrown(() => new PathPattern('/x/:', 'r')).code).toBe('INVALID_OPTIONS');
  });
});

describe('AccessRules', () => {
  const decide = (rules: AccessRule[], path: string, method = 'GET', scopes: string[] = []) =>
    new AccessRules(rules).evaluate(pathSegments(path), method, scopes);

  it('evaluates highest priority first; the first match wins', () => {
    const rules: AccessRule[] = [
      { resource: '/orders/*', effect: 'allow', priority: 1 },
      { resource: '/orders/secret/*', effect: 'deny', priority: 10 },
    ];
    expect(decide(rules, '/orders/1')).toMatchObject({ effect: 'allow', rule: 0 });
    expect(decide(rules, '/orders/secret/1')).toMatchObject({ effect: 'deny', rule: 1 });
    // the same rules with the priorities swapped: the allow now shadows the deny
    rules[0]!.priority = 20;
    expect(decide(rules, '/orders/secret/1')).toMatchObject({ effect: 'allow', rule: 0 });
  });

  it('at equal priority deny wins, whatever the declaration order', () => {
    const rules: AccessRule[] = [
      { resource: '/a/*', effect: 'allow' },
      { resource: '/a/:x', effect: 'deny' },
    ];
    expect(decide(rules, '/a/1')).toMatchObject({ effect: 'deny', rule: 1 });
    expect(decide(rules, '/a/1/2')).toMatchObject({ effect: 'allow', rule: 0 });
  });

  it('denies by default when no rule matches (also for unmatchable paths)', () => {
    const rules: AccessRule[] = [{ resource: '/public/*', effect: 'allow' }];
    expect(decide(rules, '/private')).toEqual({ effect: 'deny', rule: undefined, wouldAllowWith: [] });
    expect(decide(rules, '/public/../private')).toMatchObject({ effect: 'deny', rule: undefined });
  });

  it('matches methods (any case; GET covers HEAD) and scope conditions', () => {
    const rules: AccessRule[] = [
      { resource: '/orders/:id', methods: ['get'], effect: 'allow' },
      { resource: '/orders/:id', methods: ['DELETE'], scope: 'orders:admin', effect: 'allow' },
      { resource: '/orders/:id', methods: ['PUT', 'PATCH'], scope: ['orders:write', 'orders:read'], effect: 'allow' },
    ];
    expect(decide(rules, '/orders/1', 'GET').effect).toBe('allow');
    expect(decide(rules, '/orders/1', 'HEAD').effect).toBe('allow');
    expect(decide(rules, '/orders/1', 'POST').effect).toBe('deny');
    expect(decide(rules, '/orders/1', 'DELETE')).toMatchObject({ effect: 'deny', wouldAllowWith: ['orders:admin'] });
    expect(decide(rules, '/orders/1', 'DELETE', ['orders:admin']).effect).toBe('allow');
    expect(decide(rules, '/orders/1', 'PUT', ['orders:write']).effect).toBe('deny');
    expect(decide(rules, '/orders/1', 'PATCH', ['orders:write', 'orders:read']).effect).toBe('allow');
  });

  it('a deny on GET cannot be bypassed with HEAD, // or a trailing slash', () => {
    const rules: AccessRule[] = [
      { resource: '/*', effect: 'allow' },
      { resource: '/admin/*', methods: ['GET'], effect: 'deny', priority: 100 },
    ];
    for (const [path, method] of [
      ['/admin/users', 'GET'],
      ['/admin/users', 'HEAD'],
      ['//admin/users', 'GET'],
      ['/admin/users/', 'GET'],
      ['/admin//users', 'GET'],
      ['/%61dmin/users', 'GET'],
      ['/x/../admin/users', 'GET'],
    ] as const) {
      expect(decide(rules, path, method).effect, `${method} ${path}`).toBe('deny');
    }
    expect(decide(rules, '/other', 'GET').effect).toBe('allow');
  });

  it('refuses bad rules naming the option', () => {
    const bad = (r: unknown) => thrown(() => new AccessRules([r as AccessRule], 'routes[1].auth.rules')).message;
    expect(bad({ resource: '/a', effect: 'maybe' })).toMatch(/^routes\[1\]\.auth\.rules\[0\]\.effect /);
    expect(bad({ resource: '/a', effect: 'allow', methods: [] })).toMatch(/\.methods /);
    expect(bad({ resource: '/a', effect: 'allow', methods: ['G ET'] })).toMatch(/\.methods /);
    expect(bad({ resource: '/a', effect: 'allow', scope: 'a b' })).toMatch(/\.scope /);
    expect(bad({ resource: '/a', effect: 'allow', priority: Number.NaN })).toMatch(/\.priority /);
    expect(bad({ resource: 'a', effect: 'allow' })).toMatch(/\.resource /);
  });
});

describe('rules through the guard', () => {
  let guard: AuthGuard;
  const secret = new TextEncoder().encode(HS_SECRET);
  beforeAll(() => {
    guard = new AuthGuard({
      jwt: { keySource: new StaticKeySource({ keys: [{ type: 'secret', secret: HS_SECRET }] }), requiredClaims: [] },
    });
  });
  afterAll(() => guard.close());

  it('allow / deny by priority, default deny, 403 with the scope hint', async () => {
    const route = guard.compileRoute({
      rules: [
        { resource: '/orders/*', methods: ['GET'], scope: 'orders:read', effect: 'allow', priority: 10 },
        { resource: '/orders/:id', methods: ['DELETE'], scope: 'orders:admin', effect: 'allow', priority: 10 },
        { resource: '/orders/archive/*', effect: 'deny', priority: 50 },
      ],
    });
    const reader = bearer(await sign(secret, { scope: 'orders:read orders:admin' }, { alg: 'HS256' }));
    await expect(guard.authorize(request({ authorization: reader, url: '/orders/1' }), route)).resolves.toMatchObject({
      subject: 'user-1',
    });
    await expect(
      guard.authorize(request({ authorization: reader, url: '/orders/1', method: 'DELETE' }), route),
    ).resolves.toBeDefined();

    const archived = await rejection(
      guard.authorize(request({ authorization: reader, url: '/orders/archive/1' }), route),
    );
    expect(httpStatusOf(archived.code)).toBe(403);
    expect(archived.details?.reason).toBe('denied_by_rule');

    const unlisted = await rejection(guard.authorize(request({ authorization: reader, url: '/invoices/1' }), route));
    expect(httpStatusOf(unlisted.code)).toBe(403);
    expect(unlisted.message).toBe('no access rule allows this request');

    const nobody = bearer(await sign(secret, {}, { alg: 'HS256' }));
    const hinted = await rejection(guard.authorize(request({ authorization: nobody, url: '/orders/1' }), route));
    expect(httpStatusOf(hinted.code)).toBe(403);
    expect(hinted.details?.wwwAuthenticate).toContain('error="insufficient_scope"');
    expect(hinted.details?.wwwAuthenticate).toContain('scope="orders:read"');
  });

  it('judges the path the router matched when one is given, else req.url', async () => {
    const route = guard.compileRoute({
      rules: [
        { resource: '/*', effect: 'allow' },
        { resource: '/admin/*', effect: 'deny', priority: 1 },
      ],
    });
    const token = bearer(await sign(secret, {}, { alg: 'HS256' }));
    const url = '/public/../admin/users';
    // unmatchable raw path: default deny
    expect((await rejection(guard.authorize(request({ authorization: token, url }), route))).details?.reason).toBe(
      'denied_by_rule',
    );
    const denied = await rejection(guard.authorize(request({ authorization: token, url }), route, '/admin/users'));
    expect(denied.message).toBe('denied by an access rule');
    await expect(guard.authorize(request({ authorization: token, url }), route, '/public/x')).resolves.toBeDefined();
  });

  it('route scopes are checked before the rules', async () => {
    const route = guard.compileRoute({ scopes: ['api'], rules: [{ resource: '/*', effect: 'allow' }] });
    const token = bearer(await sign(secret, { scope: 'other' }, { alg: 'HS256' }));
    const err = await rejection(guard.authorize(request({ authorization: token }), route));
    expect(err.details).toMatchObject({ reason: 'insufficient_scope', requiredScopes: ['api'] });
  });
});
