import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileRoute, FileRouteSource, parseRoutesFile, RouteStore, RouteTable } from '@switchyard/gateway';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

async function eventually(check: () => void, timeoutMs = 3_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

const yamlRoute = (id: string, path: string, service = 'svc') =>
  `  - id: ${id}\n    match: { path: ${path} }\n    target: { type: http, service: ${service} }\n`;

let dir: string;
let file: string;
let store: RouteStore | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-routes-'));
  file = join(dir, 'routes.yaml');
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function startStore(): Promise<{ source: FileRouteSource; store: RouteStore }> {
  const source = new FileRouteSource({ path: file, debounceMs: 20 });
  store = new RouteStore({ source });
  await store.start();
  return { source, store };
}

const ids = (s: RouteStore) => s.table.routes.map((r) => r.id);

describe('FileRouteSource', () => {
  it('loads the routes file at start', async () => {
    writeFileSync(file, `routes:\n${yamlRoute('a', '/a')}${yamlRoute('b', '/b/*')}`);
    const { source, store } = await startStore();
    expect(ids(store)).toEqual(['a', 'b']);
    expect(source.synced).toBe(true);
    expect(source.connected).toBe(true);
  });

  it('applies an edit in place, and a replace-by-rename as editors do, within the debounce', async () => {
    writeFileSync(file, `- { id: a, match: { path: /a }, target: { type: http, service: v1 } }\n`);
    const { store } = await startStore();
    const t0 = performance.now();
    writeFileSync(file, `- { id: a, match: { path: /a }, target: { type: http, service: v2 } }\n`);
    await eventually(() => expect(store.table.get('a')?.target.service).toBe('v2'));
    const inPlaceMs = performance.now() - t0;

    const t1 = performance.now();
    const tmp = join(dir, '.routes.yaml.tmp');
    writeFileSync(tmp, `[{ "id": "a", "match": { "path": "/a" }, "target": { "type": "http", "service": "v3" } }]`);
    renameSync(tmp, file);
    await eventually(() => expect(store.table.get('a')?.target.service).toBe('v3'));
    const renameMs = performance.now() - t1;
    console.log(
      `file route reload: in place ${inPlaceMs.toFixed(0)} ms, by rename ${renameMs.toFixed(0)} ms (debounce 20 ms)`,
    );
  });

  it('rejects a bad item by its position and serves the rest', async () => {
    writeFileSync(file, `routes:\n${yamlRoute('a', '/a')}${yamlRoute('b', 'no-slash')}  - 42\n`);
    const { store } = await startStore();
    expect(ids(store)).toEqual(['a']);
    expect(store.rejected().map((r) => [r.origin, r.id])).toEqual([
      ['routes.yaml[1]', 'b'],
      ['routes.yaml[2]', undefined],
    ]);
  });

  it('keeps the previous routes while the file is broken, and recovers when it is fixed', async () => {
    writeFileSync(file, `routes:\n${yamlRoute('a', '/a')}`);
    const { source, store } = await startStore();
    const before = store.table;

    writeFileSync(file, 'routes: [ { id: a, match: ');
    await eventually(() => expect(source.synced).toBe(false));
    expect(source.lastError?.code).toBe('INVALID_ARGUMENT');
    expect(store.table).toBe(before);

    writeFileSync(file, 'not: a route list\n');
    await eventually(() => expect(source.lastError?.message).toMatch(/list of routes/));
    expect(store.table).toBe(before);

    rmSync(file);
    await eventually(() => expect(source.connected).toBe(false));
    expect(source.lastError?.code).toBe('NOT_FOUND');
    expect(store.table).toBe(before);

    writeFileSync(file, `routes:\n${yamlRoute('a', '/a')}${yamlRoute('c', '/c')}`);
    await eventually(() => expect(ids(store)).toEqual(['a', 'c']));
    expect(source.synced).toBe(true);
    expect(source.lastError).toBeUndefined();
  });

  it('fails start when the file is missing or broken: a configuration mistake, not an outage', async () => {
    const missing = new FileRouteSource({ path: join(dir, 'nope.yaml') });
    await expect(missing.start(() => {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
    writeFileSync(file, '{ routes: [');
    const broken = new FileRouteSource({ path: file });
    await expect(broken.start(() => {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('delivers nothing after close', async () => {
    writeFileSync(file, `routes:\n${yamlRoute('a', '/a')}`);
    let snapshots = 0;
    const source = new FileRouteSource({ path: file, debounceMs: 0 });
    await source.start(() => snapshots++);
    await source.close();
    await source.close();
    writeFileSync(file, `routes:\n${yamlRoute('b', '/b')}`);
    await new Promise((r) => setTimeout(r, 100));
    expect(snapshots).toBe(1);
    expect(source.synced).toBe(false);
  });

  it('validates its options', () => {
    expect(() => new FileRouteSource({ path: '' })).toThrow(/option "path"/);
    expect(() => new FileRouteSource({ path: file, debounceMs: -1 })).toThrow(/option "debounceMs"/);
  });
});

describe('parseRoutesFile', () => {
  it('takes a list, an object with a routes list, JSON, or nothing', () => {
    expect(parseRoutesFile('- a\n- b\n')).toEqual(['a', 'b']);
    expect(parseRoutesFile('routes:\n  - a\n')).toEqual(['a']);
    expect(parseRoutesFile('{"routes": [1]}')).toEqual([1]);
    expect(parseRoutesFile('')).toEqual([]);
    expect(() => parseRoutesFile('routes: 3')).toThrow(/list of routes/);
  });
});

describe('examples/routes.yaml', () => {
  it('holds valid demo routes: orders over http, payments charge over rpc', async () => {
    const { readFileSync } = await import('node:fs');
    const items = parseRoutesFile(readFileSync(join(root, 'examples/routes.yaml'), 'utf8'));
    const compiled = items.map((item) => {
      const r = compileRoute(item);
      if (!r.ok) throw new Error(JSON.stringify(r.violations));
      return r.route;
    });
    const t = new RouteTable(compiled);
    expect(t.match('localhost', 'GET', '/api/orders/o-1')).toMatchObject({
      route: { id: 'orders-read', target: { type: 'http', service: 'orders' } },
      upstreamPath: '/orders/o-1',
    });
    expect(t.match('localhost', 'POST', '/api/orders')).toMatchObject({ route: { id: 'orders-create' } });
    expect(t.match('localhost', 'POST', '/api/payments/charge')).toMatchObject({
      route: { id: 'payments-charge', target: { type: 'rpc', service: 'payments', method: 'charge' } },
    });
    expect(t.match('localhost', 'GET', '/api/payments/charge')).toEqual({ methodNotAllowed: true, allowed: ['POST'] });
  });
});
