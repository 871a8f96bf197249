/**
 * `routes apply` decides in pure code: the file is validated whole (every reason for every
 * bad route), then compared with what etcd holds, field by field.
 */
import { fieldChanges, planRoutes, type StoredRoute, validateRoutesFile } from '@switchyard/cli';
import { describe, expect, it } from 'vitest';

const file = `
routes:
  - id: orders-read
    match: { path: /api/orders/:id, methods: [GET] }
    target: { type: http, service: orders, balancer: p2c-latency }
  - id: payments-charge
    match: { path: /api/payments/charge, methods: [POST] }
    target: { type: rpc, service: payments, method: charge }
`;

const stored = (id: string, value: unknown, modRevision = '7'): StoredRoute => ({
  id,
  key: `/ns/routes/${id}`,
  value,
  modRevision,
});

describe('validateRoutesFile', () => {
  it('returns every route of a valid file with where it came from', () => {
    const routes = validateRoutesFile(file, 'routes.yaml');
    expect(routes.map((r) => [r.id, r.where])).toEqual([
      ['orders-read', 'routes.yaml[0] (orders-read)'],
      ['payments-charge', 'routes.yaml[1] (payments-charge)'],
    ]);
  });

  it('refuses the whole file, listing every invalid route with every reason', () => {
    const bad = `
- id: ok
  match: { path: /ok }
  target: { type: rpc, service: s, method: m }
- id: typo
  match: { path: /t }
  target: { type: rpc, service: s, method: m }
  auht: { mode: "off" }
- id: slash
  match: { path: /trailing/ }
  target: { type: http, service: s, balancer: consistent-hash }
- id: ok
  match: { path: /dup }
  target: { type: rpc, service: s, method: m }
`;
    let err: unknown;
    try {
      validateRoutesFile(bad, 'r.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'r.yaml has 3 invalid routes; nothing was written',
    });
    const routes = (err as { details: { routes: Array<{ where: string; violations: Array<{ pointer: string }> }> } })
      .details.routes;
    expect(routes.map((r) => r.where)).toEqual(['r.yaml[1] (typo)', 'r.yaml[2] (slash)', 'r.yaml[3] (ok)']);
    expect(routes[0]!.violations.map((v) => v.pointer)).toEqual(['/auht']);
    // Both semantic problems of one route, not just the first.
    expect(routes[1]!.violations.map((v) => v.pointer).sort()).toEqual(['/match/path', '/target/hashHeader']);
    expect(routes[2]!.violations[0]).toEqual({ pointer: '/id', message: 'duplicates the id of r.yaml[0] (ok)' });
  });

  it('refuses a file that is not YAML or not a list of routes', () => {
    expect(() => validateRoutesFile('a: [', 'x.yaml')).toThrow(/not valid YAML/);
    expect(() => validateRoutesFile('a: 1', 'x.yaml')).toThrow(/must hold a list of routes/);
  });
});

describe('planRoutes', () => {
  const desired = validateRoutesFile(file, 'routes.yaml');
  const [ordersRead, paymentsCharge] = desired.map((d) => d.route);

  it('adds what etcd lacks; equal JSON in another key order is unchanged', () => {
    const reordered = JSON.parse(
      JSON.stringify({ target: ordersRead!.target, match: ordersRead!.match, id: 'orders-read' }),
    );
    const plan = planRoutes(desired, [stored('orders-read', reordered)], { prune: false });
    expect(plan.added.map((d) => d.id)).toEqual(['payments-charge']);
    expect(plan.unchanged.map((d) => d.id)).toEqual(['orders-read']);
    expect(plan.changed).toEqual([]);
  });

  it('names each changed field', () => {
    const before = { ...ordersRead!, target: { type: 'http', service: 'orders' }, timeoutMs: 100 };
    const plan = planRoutes(desired, [stored('orders-read', before), stored('payments-charge', paymentsCharge)], {
      prune: false,
    });
    expect(plan.changed).toHaveLength(1);
    expect(plan.changed[0]!.fields).toEqual([
      { pointer: '/target/balancer', kind: 'added', after: 'p2c-latency' },
      { pointer: '/timeoutMs', kind: 'removed', before: 100 },
    ]);
  });

  it('keeps routes that are only in etcd unless pruning, then removes them', () => {
    const extra = [stored('orders-read', ordersRead), stored('payments-charge', paymentsCharge), stored('legacy', {})];
    expect(planRoutes(desired, extra, { prune: false })).toMatchObject({ kept: [{ id: 'legacy' }], removed: [] });
    expect(planRoutes(desired, extra, { prune: true })).toMatchObject({ kept: [], removed: [{ id: 'legacy' }] });
  });

  it('replaces a stored value that is not JSON', () => {
    const plan = planRoutes(desired, [stored('orders-read', undefined)], { prune: false });
    expect(plan.changed[0]!.fields).toEqual([
      { pointer: '', kind: 'changed', before: '(not JSON)', after: ordersRead },
    ]);
  });
});

describe('fieldChanges', () => {
  it('compares objects key by key and everything else as a whole value', () => {
    expect(fieldChanges({ a: { b: 1, c: [1, 2] } }, { a: { b: 2, c: [1, 2, 3] }, d: 'x' })).toEqual([
      { pointer: '/a/b', kind: 'changed', before: 1, after: 2 },
      { pointer: '/a/c', kind: 'changed', before: [1, 2], after: [1, 2, 3] },
      { pointer: '/d', kind: 'added', after: 'x' },
    ]);
    expect(fieldChanges({ 'a/b': 1 }, { 'a/b': 2 })).toEqual([
      { pointer: '/a~1b', kind: 'changed', before: 1, after: 2 },
    ]);
    expect(fieldChanges({ x: 1, y: 2 }, { y: 2, x: 1 })).toEqual([]);
  });
});
