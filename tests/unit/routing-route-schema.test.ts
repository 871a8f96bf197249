import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  BALANCERS,
  checkRoute,
  compileRoute,
  HTTP_METHODS,
  parseRoute,
  ROUTE_SCHEMA_FILE,
  ROUTE_SCHEMA_ID,
  routeSchema,
} from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

/** The example of the product issue, every field used. */
const full = {
  id: 'orders-read',
  priority: 10,
  match: { hosts: ['api.example.com', '*.example.com'], path: '/api/orders/:id', methods: ['GET'] },
  target: {
    type: 'http',
    service: 'orders',
    balancer: 'consistent-hash',
    hashHeader: 'x-user-id',
    rewrite: '/v1/orders/:id',
  },
  auth: {
    mode: 'required',
    scopes: ['orders:read'],
    rules: [{ resource: '/api/orders/*', methods: ['GET'], scope: 'orders:read', effect: 'allow', priority: 10 }],
  },
  rateLimit: { points: 100, durationSeconds: 60, key: 'subject' },
  requestSchema: 'https://schemas.switchyard.dev/orders/order.create.request.json',
  timeoutMs: 5000,
  retries: { attempts: 2 },
  maxBodyBytes: 1048576,
};

const minimal = { id: 'r', match: { path: '/a' }, target: { type: 'http', service: 's' } };

/** `minimal` with parts replaced (one level deep for match/target). */
function route(over: { match?: object; target?: object; [k: string]: unknown }): Record<string, unknown> {
  return {
    ...minimal,
    ...over,
    match: { ...minimal.match, ...over.match },
    target: over.target && 'type' in over.target ? over.target : { ...minimal.target, ...over.target },
  };
}

function violations(value: unknown, expectedId?: string) {
  const r = checkRoute(value, expectedId === undefined ? {} : { expectedId });
  return r.ok ? [] : r.violations;
}

describe('route schema file', () => {
  const schema = JSON.parse(readFileSync(resolve(root, 'schemas/switchyard/route.json'), 'utf8'));

  it('is the file routing loads, with $id switchyard:route and JSON Schema 2020-12', () => {
    expect(ROUTE_SCHEMA_FILE).toBe(resolve(root, 'schemas/switchyard/route.json'));
    expect(schema.$id).toBe(ROUTE_SCHEMA_ID);
    expect(ROUTE_SCHEMA_ID).toBe('switchyard:route');
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(routeSchema()).toEqual(schema);
  });

  it('lists the same methods and balancers as the code', () => {
    expect(schema.$defs.method.enum).toEqual([...HTTP_METHODS]);
    expect(schema.$defs.httpTarget.properties.balancer.enum).toEqual([...BALANCERS]);
  });
});

describe('valid routes', () => {
  it('accepts the full example and the minimal route', () => {
    expect(violations(full)).toEqual([]);
    expect(violations(minimal)).toEqual([]);
  });

  it('accepts an rpc target', () => {
    const rpc = {
      id: 'payments-charge',
      match: { path: '/api/payments/charge', methods: ['POST'] },
      target: { type: 'rpc', service: 'payments', method: 'charge' },
      requestSchema: 'https://schemas.switchyard.dev/payments/payment.charge.request.json',
    };
    expect(violations(rpc)).toEqual([]);
  });

  it('accepts rpc targets that stream over a WebSocket or as SSE', () => {
    const ws = {
      id: 'chat',
      match: { path: '/ws/chat', methods: ['GET'] },
      target: { type: 'rpc', service: 'chat', method: 'talk', stream: 'websocket' },
      maxBodyBytes: 4096,
    };
    expect(violations(ws)).toEqual([]);
    expect(violations({ ...ws, match: { path: '/ws/chat' } })).toEqual([]);
    expect(
      violations({ ...ws, target: { ...ws.target, stream: 'sse' }, match: { path: '/a', methods: ['POST'] } }),
    ).toEqual([]);
  });

  it('accepts each path form and each balancer', () => {
    for (const path of ['/', '/*', '/**', '/a/b', '/a/:b/c', '/a/:b/*', '/v1/caf%C3%A9', "/a-b_c.d~!$&'()+,;=:@"]) {
      expect(violations(route({ match: { path } })), path).toEqual([]);
    }
    for (const balancer of BALANCERS) {
      const t = balancer === 'consistent-hash' ? { balancer, hashHeader: 'x-user-id' } : { balancer };
      expect(violations(route({ target: t })), balancer).toEqual([]);
    }
  });

  it('accepts an auth rule with several scopes', () => {
    const auth = { mode: 'optional', rules: [{ resource: '/a', effect: 'deny', scope: ['a:x', 'a:y'] }] };
    expect(violations(route({ auth }))).toEqual([]);
  });

  it('does not modify the value it validates (no defaults written in)', () => {
    const value = structuredClone(minimal);
    expect(checkRoute(value).ok).toBe(true);
    expect(value).toEqual(minimal);
  });
});

describe('schema violations come back as { pointer, message }, all of them', () => {
  it('names missing and unknown fields by pointer', () => {
    expect(violations({ id: 'x', priorty: 3, match: { path: '/a', method: ['GET'] } })).toEqual(
      expect.arrayContaining([
        { pointer: '/target', message: 'is required' },
        { pointer: '/priorty', message: expect.stringMatching(/not allowed/) },
        { pointer: '/match/method', message: expect.stringMatching(/not allowed/) },
      ]),
    );
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['bad id', { ...minimal, id: 'has space' }, '/id'],
    ['id with a slash', { ...minimal, id: 'a/b' }, '/id'],
    ['float priority', { ...minimal, priority: 1.5 }, '/priority'],
    ['relative path', route({ match: { path: 'a/b' } }), '/match/path'],
    ['path with a space', route({ match: { path: '/a b' } }), '/match/path'],
    ['upper-case host', route({ match: { hosts: ['API.example.com'] } }), '/match/hosts/0'],
    ['host with a port', route({ match: { hosts: ['api.example.com:8080'] } }), '/match/hosts/0'],
    ['wildcard in the middle of a host', route({ match: { hosts: ['api.*.com'] } }), '/match/hosts/0'],
    ['duplicate host', route({ match: { hosts: ['a.com', 'a.com'] } }), '/match/hosts'],
    ['empty hosts', route({ match: { hosts: [] } }), '/match/hosts'],
    ['lower-case method', route({ match: { methods: ['get'] } }), '/match/methods/0'],
    ['unknown method', route({ match: { methods: ['FETCH'] } }), '/match/methods/0'],
    ['unknown target type', route({ target: { type: 'grpc', service: 's' } }), '/target/type'],
    ['unknown balancer', route({ target: { balancer: 'random' } }), '/target/balancer'],
    [
      'upper-case hash header',
      route({ target: { balancer: 'consistent-hash', hashHeader: 'X-User' } }),
      '/target/hashHeader',
    ],
    ['rpc without method', route({ target: { type: 'rpc', service: 's' } }), '/target/method'],
    [
      'rpc with stripPrefix',
      route({ target: { type: 'rpc', service: 's', method: 'm', stripPrefix: '/a' } }),
      '/target/stripPrefix',
    ],
    [
      'rpc with an unknown stream',
      route({ target: { type: 'rpc', service: 's', method: 'm', stream: 'grpc' } }),
      '/target/stream',
    ],
    ['stream on an http target', route({ target: { stream: 'websocket' } }), '/target/stream'],
    ['bad service name', route({ target: { service: 'my service' } }), '/target/service'],
    ['auth without mode', route({ auth: { scopes: ['a'] } }), '/auth/mode'],
    ['bad auth mode', route({ auth: { mode: 'maybe' } }), '/auth/mode'],
    [
      'rule with a bad effect',
      route({ auth: { mode: 'required', rules: [{ resource: '/a', effect: 'permit' }] } }),
      '/auth/rules/0/effect',
    ],
    ['scope with a space', route({ auth: { mode: 'required', scopes: ['a b'] } }), '/auth/scopes/0'],
    ['rate limit without key', route({ rateLimit: { points: 1, durationSeconds: 1 } }), '/rateLimit/key'],
    [
      'rate limit with 0 points',
      route({ rateLimit: { points: 0, durationSeconds: 1, key: 'ip' } }),
      '/rateLimit/points',
    ],
    [
      'rate limit on an unknown key',
      route({ rateLimit: { points: 1, durationSeconds: 1, key: 'user' } }),
      '/rateLimit/key',
    ],
    ['negative timeout', route({ timeoutMs: -1 }), '/timeoutMs'],
    ['too many retries', route({ retries: { attempts: 11 } }), '/retries/attempts'],
    ['negative body limit', route({ maxBodyBytes: -1 }), '/maxBodyBytes'],
  ])('%s', (_name, value, pointer) => {
    const v = violations(value);
    expect(v.map((x) => x.pointer)).toContain(pointer);
  });

  it('says which values an enum allows', () => {
    expect(violations(route({ target: { balancer: 'random' } }))).toEqual([
      {
        pointer: '/target/balancer',
        message: 'must be one of "round-robin", "least-outstanding", "p2c-latency", "consistent-hash"',
      },
    ]);
  });

  it('rejects a value that is not an object', () => {
    expect(violations('route')).toEqual([{ pointer: '', message: 'must be object' }]);
    expect(violations(null).length).toBe(1);
  });
});

describe('semantic checks', () => {
  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['trailing slash', route({ match: { path: '/a/' } }), '/match/path', /must not end with "\/"/],
    ['empty segment', route({ match: { path: '/a//b' } }), '/match/path', /empty segment/],
    ['wildcard not last', route({ match: { path: '/a/*/b' } }), '/match/path', /only allowed as the last segment/],
    ['duplicate parameter', route({ match: { path: '/a/:x/:x' } }), '/match/path', /appears twice/],
    ['bad parameter name', route({ match: { path: '/a/:1x' } }), '/match/path', /parameter ":1x"/],
    ['empty parameter name', route({ match: { path: '/a/:' } }), '/match/path', /parameter ":"/],
    ['dot segment', route({ match: { path: '/a/../b' } }), '/match/path', /segment "\.\." is not allowed/],
    ['encoded dot', route({ match: { path: '/a/%2e' } }), '/match/path', /not in normalised form/],
    ['lower-case escape', route({ match: { path: '/a%7cb' } }), '/match/path', /write it as "a%7Cb"/],
    ['encoded slash', route({ match: { path: '/a%2Fb' } }), '/match/path', /encoded "\/"/],
    [
      'consistent-hash without header',
      route({ target: { balancer: 'consistent-hash' } }),
      '/target/hashHeader',
      /required by balancer "consistent-hash"/,
    ],
    [
      'hash header without consistent-hash',
      route({ target: { hashHeader: 'x-user' } }),
      '/target/hashHeader',
      /only used/,
    ],
    [
      'rewrite with an unknown parameter',
      route({ match: { path: '/a/:id' }, target: { rewrite: '/b/:name' } }),
      '/target/rewrite',
      /":name", which match.path "\/a\/:id" does not define/,
    ],
    ['rewrite with * but no wildcard path', route({ target: { rewrite: '/b/*' } }), '/target/rewrite', /has no "\*"/],
    [
      'stripPrefix and rewrite together',
      route({ match: { path: '/a/b' }, target: { stripPrefix: '/a', rewrite: '/b' } }),
      '/target/rewrite',
      /exclude each other/,
    ],
    [
      'stripPrefix that is not a prefix',
      route({ match: { path: '/api/orders' }, target: { stripPrefix: '/apix' } }),
      '/target/stripPrefix',
      /literal prefix of match.path/,
    ],
    [
      'stripPrefix cutting a segment in half',
      route({ match: { path: '/api/orders' }, target: { stripPrefix: '/api/ord' } }),
      '/target/stripPrefix',
      /whole-segment literal prefix/,
    ],
    [
      'stripPrefix over a parameter',
      route({ match: { path: '/:tenant/orders' }, target: { stripPrefix: '/acme' } }),
      '/target/stripPrefix',
      /literal prefix/,
    ],
    [
      'stripPrefix with a parameter',
      route({ match: { path: '/a/:b' }, target: { stripPrefix: '/a/:b' } }),
      '/target/stripPrefix',
      /must be literal/,
    ],
    ['stripPrefix "/"', route({ target: { stripPrefix: '/' } }), '/target/stripPrefix', /strip nothing/],
    [
      'websocket route that matches no GET',
      route({ match: { methods: ['POST'] }, target: { type: 'rpc', service: 's', method: 'm', stream: 'websocket' } }),
      '/match/methods',
      /must include GET/,
    ],
    [
      'websocket route with retries',
      route({ retries: { attempts: 1 }, target: { type: 'rpc', service: 's', method: 'm', stream: 'websocket' } }),
      '/retries',
      /not replayed/,
    ],
    [
      'auth off with rules',
      route({ auth: { mode: 'off', rules: [{ resource: '/a', effect: 'allow' }] } }),
      '/auth/mode',
      /is "off"/,
    ],
  ])('%s', (_name, value, pointer, message) => {
    const v = violations(value);
    expect(v).toEqual([{ pointer, message: expect.stringMatching(message) }]);
  });

  it('requires the id to equal the id in the key when one is given', () => {
    expect(violations(minimal, 'r')).toEqual([]);
    expect(violations(minimal, 'other')).toEqual([{ pointer: '/id', message: expect.stringMatching(/"other"/) }]);
  });

  it('reports every semantic problem at once', () => {
    const v = violations(route({ match: { path: '/a/' }, target: { balancer: 'consistent-hash' } }));
    expect(v.map((x) => x.pointer).sort()).toEqual(['/match/path', '/target/hashHeader']);
  });
});

describe('parseRoute and compileRoute', () => {
  it('parseRoute throws INVALID_ARGUMENT carrying every violation', () => {
    expect(parseRoute(full)).toBe(full);
    try {
      parseRoute({ id: 'x' }, { expectedId: 'x' });
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
      const details = (err as { details: { violations: { pointer: string }[] } }).details;
      expect(details.violations.map((v) => v.pointer).sort()).toEqual(['/match', '/target']);
      expect((err as Error).message).toMatch(/^route is invalid: /);
    }
  });

  it('compileRoute fills defaults, keeps the definition as written, and freezes it all', () => {
    const input = structuredClone(minimal);
    const r = compileRoute(input);
    if (!r.ok) throw new Error(JSON.stringify(r.violations));
    const c = r.route;
    expect(c.priority).toBe(0);
    expect(c.target).toEqual({ type: 'http', service: 's', balancer: 'round-robin' });
    expect(c.definition).toEqual(minimal);
    expect(c.definition).not.toBe(input);
    expect(c.methods).toBeUndefined();
    expect(c.allowedMethods).toBeUndefined();
    expect(c.hosts).toBeUndefined();
    input.match.path = '/changed';
    expect(c.definition.match.path).toBe('/a');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.definition.match)).toBe(true);
    expect(Object.isFrozen(c.target)).toBe(true);
  });

  it('compileRoute exposes what auth, rate limit and the proxy read', () => {
    const r = compileRoute(full);
    if (!r.ok) throw new Error(JSON.stringify(r.violations));
    const c = r.route;
    expect(c.priority).toBe(10);
    expect(c.methods).toEqual(['GET']);
    expect([...(c.allowedMethods ?? [])].sort()).toEqual(['GET', 'HEAD']);
    expect(c.hosts).toEqual([
      { kind: 'exact', host: 'api.example.com' },
      { kind: 'wildcard', suffix: '.example.com' },
    ]);
    expect(c.auth).toEqual(full.auth);
    expect(c.rateLimit).toEqual({ points: 100, durationSeconds: 60, key: 'subject' });
    expect(c.requestSchema).toBe(full.requestSchema);
    expect([c.timeoutMs, c.retries, c.maxBodyBytes]).toEqual([5000, { attempts: 2 }, 1048576]);
    expect(c.pattern).toMatchObject({ kind: 'params', paramNames: ['id'], wildcard: false });
    expect(c.upstream.kind).toBe('rewrite');
  });

  it('compileRoute returns violations instead of throwing', () => {
    expect(compileRoute({ id: 'x' })).toMatchObject({ ok: false, violations: expect.any(Array) });
  });
});
