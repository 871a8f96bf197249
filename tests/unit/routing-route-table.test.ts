import { type CompiledRoute, compileRoute, normalizePath, type RouteLookup, RouteTable } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

interface R {
  id: string;
  path: string;
  methods?: string[];
  hosts?: string[];
  priority?: number;
  stripPrefix?: string;
  rewrite?: string;
}

function compile(r: R): CompiledRoute {
  const target: Record<string, unknown> = { type: 'http', service: 'svc' };
  if (r.stripPrefix) target.stripPrefix = r.stripPrefix;
  if (r.rewrite) target.rewrite = r.rewrite;
  const match: Record<string, unknown> = { path: r.path };
  if (r.methods) match.methods = r.methods;
  if (r.hosts) match.hosts = r.hosts;
  const def: Record<string, unknown> = { id: r.id, match, target };
  if (r.priority !== undefined) def.priority = r.priority;
  const c = compileRoute(def);
  if (!c.ok) throw new Error(`${r.id}: ${JSON.stringify(c.violations)}`);
  return c.route;
}

function table(...routes: R[]): RouteTable {
  return new RouteTable(routes.map(compile));
}

/** The id of the matched route, 'none' for 404, or '405:<allowed>'. */
function winner(t: RouteTable, method: string, path: string, host?: string): string {
  const r = t.match(host, method, path);
  if (!r) return 'none';
  if (r.methodNotAllowed) return `405:${r.allowed.join(',')}`;
  return r.route.id;
}

function matched(r: RouteLookup) {
  if (!r || r.methodNotAllowed) throw new Error(`expected a match, got ${JSON.stringify(r)}`);
  return r;
}

describe('path specificity when priorities are equal', () => {
  const t = table(
    { id: 'wild-root', path: '/*' },
    { id: 'wild-api', path: '/api/*' },
    { id: 'wild-orders', path: '/api/orders/*' },
    { id: 'param-id', path: '/api/orders/:id' },
    { id: 'param-any', path: '/api/:kind/:id' },
    { id: 'exact-count', path: '/api/orders/count' },
    { id: 'exact-orders', path: '/api/orders' },
    { id: 'root', path: '/' },
  );

  it.each([
    ['/api/orders/count', 'exact-count'], // exact beats params and wildcards
    ['/api/orders/42', 'param-id'], // params beat wildcards; literal "orders" beats ":kind"
    ['/api/users/42', 'param-any'],
    ['/api/orders', 'exact-orders'], // exact beats the wildcard that also matches its prefix
    ['/api/orders/42/lines', 'wild-orders'], // longer wildcard prefix first
    ['/api/users', 'wild-api'],
    ['/api', 'wild-api'], // a wildcard matches its own prefix (zero segments)
    ['/other', 'wild-root'],
    ['/', 'root'],
  ])('%s -> %s', (path, id) => {
    expect(winner(t, 'GET', path)).toBe(id);
  });

  it('prefers the literal segment further left between two parameter routes', () => {
    const t2 = table({ id: 'lit-first', path: '/a/:x/c' }, { id: 'lit-second', path: '/:w/b/c' });
    expect(winner(t2, 'GET', '/a/b/c')).toBe('lit-first');
  });

  it('ranks params over wildcards even when the wildcard has more literals', () => {
    const t2 = table({ id: 'params', path: '/:a/:b/:c' }, { id: 'wild', path: '/x/y/*' });
    expect(winner(t2, 'GET', '/x/y/z')).toBe('params');
    expect(winner(t2, 'GET', '/x/y/z/w')).toBe('wild');
  });
});

describe('explicit priority', () => {
  it('beats specificity, higher first', () => {
    const t = table({ id: 'exact', path: '/api/orders/count' }, { id: 'catch-all', path: '/api/*', priority: 5 });
    expect(winner(t, 'GET', '/api/orders/count')).toBe('catch-all');
  });

  it('can be negative, putting a route behind everything else', () => {
    const t = table({ id: 'fallback', path: '/api/orders/count', priority: -1 }, { id: 'wild', path: '/api/*' });
    expect(winner(t, 'GET', '/api/orders/count')).toBe('wild');
  });

  it('ties break by route id, whatever order the routes arrive in', () => {
    const defs: R[] = [
      { id: 'b-route', path: '/x/:a' },
      { id: 'a-route', path: '/x/:b' },
      { id: 'c-route', path: '/x/:c' },
    ];
    for (const order of [defs, [...defs].reverse(), [defs[1]!, defs[2]!, defs[0]!]]) {
      expect(winner(table(...order), 'GET', '/x/1')).toBe('a-route');
    }
  });

  it('gives the same answers for any insertion order', () => {
    const defs: R[] = [
      { id: 'p1', path: '/a/:x', priority: 1 },
      { id: 'w', path: '/a/*' },
      { id: 'e', path: '/a/b' },
      { id: 'h', path: '/a/:x', hosts: ['h.example.com'] },
      { id: 'hw', path: '/*', hosts: ['*.example.com'], priority: 2 },
      { id: 'm', path: '/a/b', methods: ['POST'], priority: 3 },
    ];
    const probes: [string, string, string | undefined][] = [
      ['GET', '/a/b', undefined],
      ['POST', '/a/b', undefined],
      ['GET', '/a/c', 'h.example.com'],
      ['GET', '/a/c/d', 'x.example.com'],
      ['GET', '/a/c/d', undefined],
      ['DELETE', '/a/b', 'h.example.com'],
    ];
    const expected = probes.map(([m, p, h]) => winner(table(...defs), m, p, h));
    let seed = 7;
    for (let round = 0; round < 20; round++) {
      const shuffled = [...defs];
      for (let i = shuffled.length - 1; i > 0; i--) {
        seed = (seed * 16807) % 2147483647;
        const j = seed % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const t = table(...shuffled);
      expect(probes.map(([m, p, h]) => winner(t, m, p, h))).toEqual(expected);
    }
    expect(expected).toEqual(['p1', 'm', 'hw', 'hw', 'w', 'hw']);
  });
});

describe('hosts', () => {
  const t = table(
    { id: 'any', path: '/x' },
    { id: 'wild', path: '/x', hosts: ['*.example.com'] },
    { id: 'deep-wild', path: '/x', hosts: ['*.eu.example.com'] },
    { id: 'exact', path: '/x', hosts: ['api.example.com'] },
    { id: 'only-admin', path: '/admin', hosts: ['admin.example.com'] },
  );

  it.each([
    ['api.example.com', 'exact'],
    ['shop.example.com', 'wild'],
    ['a.b.example.com', 'wild'], // a wildcard covers any depth
    ['shop.eu.example.com', 'deep-wild'], // the longer suffix is more specific
    ['example.com', 'any'], // *.example.com does not cover the apex
    ['notexample.com', 'any'],
    ['other.org', 'any'],
    [undefined, 'any'],
    ['', 'any'],
  ])('%s -> %s', (host, id) => {
    expect(winner(t, 'GET', '/x', host)).toBe(id);
  });

  it('compares the Host header case-insensitively, without port or trailing dot', () => {
    expect(winner(t, 'GET', '/x', 'API.Example.COM')).toBe('exact');
    expect(winner(t, 'GET', '/x', 'api.example.com:8443')).toBe('exact');
    expect(winner(t, 'GET', '/x', 'api.example.com.')).toBe('exact');
    expect(winner(t, 'GET', '/x', 'Shop.Example.com:80')).toBe('wild');
  });

  it('serves a host-bound route to its host only', () => {
    expect(winner(t, 'GET', '/admin', 'admin.example.com')).toBe('only-admin');
    expect(winner(t, 'GET', '/admin', 'api.example.com')).toBe('none');
    expect(winner(t, 'GET', '/admin')).toBe('none');
  });

  it('matches IPv4 hosts exactly and strips the port of IPv6 literals', () => {
    const t2 = table({ id: 'ip', path: '/', hosts: ['127.0.0.1'] }, { id: 'any', path: '/' });
    expect(winner(t2, 'GET', '/', '127.0.0.1:8080')).toBe('ip');
    expect(winner(t2, 'GET', '/', '[::1]:8080')).toBe('any');
  });

  it('lets priority override host specificity', () => {
    const t2 = table({ id: 'exact', path: '/x', hosts: ['a.example.com'] }, { id: 'any', path: '/x', priority: 1 });
    expect(winner(t2, 'GET', '/x', 'a.example.com')).toBe('any');
  });

  it('path specificity comes before host specificity', () => {
    const t2 = table(
      { id: 'host-wild', path: '/api/*', hosts: ['a.example.com'] },
      { id: 'any-exact', path: '/api/x' },
    );
    expect(winner(t2, 'GET', '/api/x', 'a.example.com')).toBe('any-exact');
  });
});

describe('methods: 404 vs 405', () => {
  const t = table(
    { id: 'read', path: '/orders/:id', methods: ['GET'] },
    { id: 'write', path: '/orders/:id', methods: ['PUT', 'DELETE'] },
    { id: 'create', path: '/orders', methods: ['POST'] },
    { id: 'hosted', path: '/orders', methods: ['PATCH'], hosts: ['a.example.com'] },
  );

  it('picks the route that admits the method', () => {
    expect(winner(t, 'GET', '/orders/1')).toBe('read');
    expect(winner(t, 'PUT', '/orders/1')).toBe('write');
    expect(winner(t, 'DELETE', '/orders/1')).toBe('write');
  });

  it('admits HEAD on a GET route', () => {
    expect(winner(t, 'HEAD', '/orders/1')).toBe('read');
  });

  it('answers 405 with every method some matching route admits, in a stable order', () => {
    expect(winner(t, 'POST', '/orders/1')).toBe('405:GET,HEAD,PUT,DELETE');
    expect(winner(t, 'GET', '/orders')).toBe('405:POST');
    expect(winner(t, 'GET', '/orders', 'a.example.com')).toBe('405:POST,PATCH');
  });

  it('answers 404 when no route matches the path', () => {
    expect(winner(t, 'GET', '/nothing')).toBe('none');
    expect(winner(t, 'GET', '/orders/1/lines')).toBe('none');
  });

  it('falls through to a lower-ranked route that admits the method', () => {
    const t2 = table({ id: 'hi', path: '/x', methods: ['GET'], priority: 9 }, { id: 'lo', path: '/*' });
    expect(winner(t2, 'GET', '/x')).toBe('hi');
    expect(winner(t2, 'POST', '/x')).toBe('lo');
  });

  it('a route without methods admits every method, even unlisted ones', () => {
    const t2 = table({ id: 'all', path: '/dav' });
    expect(winner(t2, 'PROPFIND', '/dav')).toBe('all');
    expect(winner(t2, 'OPTIONS', '/dav')).toBe('all');
  });
});

describe('params, wildcard tail and trailing slash', () => {
  const t = table(
    { id: 'line', path: '/orders/:orderId/lines/:lineId' },
    { id: 'files', path: '/files/*' },
    { id: 'exact', path: '/health' },
  );

  it('extracts parameters as they appear in the normalised path', () => {
    expect(matched(t.match(undefined, 'GET', '/orders/o-1/lines/7')).params).toEqual({ orderId: 'o-1', lineId: '7' });
    const n = normalizePath('/orders/caf%c3%a9/lines/a%3ab');
    if (!n.ok) throw new Error('normalize');
    expect(matched(t.match(undefined, 'GET', n.path)).params).toEqual({ orderId: 'caf%C3%A9', lineId: 'a%3Ab' });
  });

  it('puts the wildcard tail under "*"', () => {
    expect(matched(t.match(undefined, 'GET', '/files/a/b.txt')).params).toEqual({ '*': 'a/b.txt' });
    expect(matched(t.match(undefined, 'GET', '/files')).params).toEqual({ '*': '' });
    expect(matched(t.match(undefined, 'GET', '/files/')).params).toEqual({ '*': '' });
    expect(matched(t.match(undefined, 'GET', '/files/dir/')).params).toEqual({ '*': 'dir/' });
  });

  it('ignores one trailing slash when matching, and keeps it upstream', () => {
    const r = matched(t.match(undefined, 'GET', '/health/'));
    expect(r.route.id).toBe('exact');
    expect(r.upstreamPath).toBe('/health/');
    expect(winner(t, 'GET', '/orders/1/lines/')).toBe('none'); // ":lineId" needs a segment
  });

  it('matches literal segments case-sensitively', () => {
    expect(winner(t, 'GET', '/Health')).toBe('none');
  });
});

describe('upstream path', () => {
  const t = table(
    { id: 'keep', path: '/keep/:id' },
    { id: 'strip', path: '/api/orders/*', stripPrefix: '/api' },
    { id: 'strip-all', path: '/svc/*', stripPrefix: '/svc' },
    { id: 'rewrite', path: '/api/users/:id/orders/:oid', rewrite: '/v1/orders/:oid/by/:id' },
    { id: 'rewrite-tail', path: '/static/*', rewrite: '/assets/v2/*' },
    { id: 'rewrite-root-tail', path: '/cdn/*', rewrite: '/*' },
    { id: 'rewrite-fixed', path: '/old', rewrite: '/new/place' },
    { id: 'rewrite-root', path: '/home', rewrite: '/' },
  );
  const up = (path: string) => matched(t.match(undefined, 'GET', path)).upstreamPath;

  it.each([
    ['/keep/1', '/keep/1'],
    ['/api/orders/42', '/orders/42'],
    ['/api/orders', '/orders'],
    ['/api/orders/42/', '/orders/42/'],
    ['/svc', '/'],
    ['/svc/', '/'],
    ['/svc/a/b', '/a/b'],
    ['/api/users/u1/orders/o9', '/v1/orders/o9/by/u1'],
    ['/static/css/site.css', '/assets/v2/css/site.css'],
    ['/static', '/assets/v2'],
    ['/cdn/x/y', '/x/y'],
    ['/cdn', '/'],
    ['/old', '/new/place'],
    ['/old/', '/new/place'],
    ['/home', '/'],
  ])('%s -> %s', (path, expected) => {
    expect(up(path)).toBe(expected);
  });
});

describe('table bookkeeping', () => {
  it('lists routes by id and finds them by id', () => {
    const t = table({ id: 'b', path: '/b' }, { id: 'a', path: '/a' });
    expect(t.size).toBe(2);
    expect(t.routes.map((r) => r.id)).toEqual(['a', 'b']);
    expect(t.get('b')?.pattern.source).toBe('/b');
    expect(t.get('zzz')).toBeUndefined();
    expect(RouteTable.EMPTY.size).toBe(0);
    expect(RouteTable.EMPTY.match('h', 'GET', '/')).toBeUndefined();
  });

  it('a route with several hosts matches each of them once', () => {
    const t = table({ id: 'multi', path: '/m', hosts: ['a.example.com', '*.example.org'] });
    expect(winner(t, 'GET', '/m', 'a.example.com')).toBe('multi');
    expect(winner(t, 'GET', '/m', 'x.example.org')).toBe('multi');
    expect(winner(t, 'GET', '/m', 'b.example.com')).toBe('none');
  });
});

describe('cost of a match (printed, not asserted)', () => {
  it('stays in the low microseconds with 1,000 routes', () => {
    const defs: R[] = [];
    for (let i = 0; i < 250; i++) {
      defs.push({ id: `e${i}`, path: `/svc${i}/items`, methods: ['GET'] });
      defs.push({ id: `p${i}`, path: `/svc${i}/items/:id`, methods: ['GET', 'PUT'] });
      defs.push({ id: `w${i}`, path: `/svc${i}/*`, hosts: [`h${i % 10}.example.com`] });
      defs.push({ id: `x${i}`, path: `/svc${i}/items/:id/lines/:line`, hosts: ['*.example.com'], priority: i % 3 });
    }
    const c0 = performance.now();
    const compiled = defs.map(compile);
    const c1 = performance.now();
    const t = new RouteTable(compiled);
    const c2 = performance.now();
    console.log(
      `compile ${defs.length} routes: ${(c1 - c0).toFixed(1)} ms (validation included); build the table: ${(c2 - c1).toFixed(1)} ms`,
    );
    const probes: [string, string, string][] = [
      ['api.example.com', 'GET', '/svc17/items/42'],
      ['h3.example.com', 'GET', '/svc3/other/thing'],
      ['api.example.com', 'GET', '/svc200/items/42/lines/3'],
      ['api.example.com', 'POST', '/svc9/items'],
      ['api.example.com', 'GET', '/nowhere/at/all'],
    ];
    expect(probes.map(([h, m, p]) => winner(t, m, p, h))).toEqual(['p17', 'w3', 'x200', '405:GET,HEAD', 'none']);
    const n = 200_000;
    let sink = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const [h, m, p] = probes[i % 3]!;
      const r = t.match(h, m, p);
      if (r && !r.methodNotAllowed) sink += r.upstreamPath.length;
    }
    const ns = Number(process.hrtime.bigint() - t0) / n;
    const normT0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const r = normalizePath(probes[i % 3]![2]);
      if (r.ok) sink += r.path.length;
    }
    const normNs = Number(process.hrtime.bigint() - normT0) / n;
    console.log(
      `route match: ${(ns / 1000).toFixed(2)} µs/match over ${t.size} routes; normalizePath: ${(normNs / 1000).toFixed(2)} µs (sink ${sink > 0})`,
    );
    expect(sink).toBeGreaterThan(0);
  });
});
