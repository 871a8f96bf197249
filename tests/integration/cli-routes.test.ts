/**
 * `switchyard routes` against a real etcd: apply is declarative (dry run writes nothing,
 * a second apply is a no-op, --prune removes), an invalid file writes nothing, and what
 * it writes is what a gateway serves — checked with an EtcdRouteSource and with the
 * `switchyard gateway` command itself routing an RPC through RabbitMQ.
 */
import { AmqpTransport } from '@switchyard/broker';
import { applyRoutePlan, EXIT, planRoutes, readStoredRoutes, validateRoutesFile } from '@switchyard/cli';
import { DEV_JWT_SECRET_ENV, EtcdRouteSource, RouteStore, routesPrefix } from '@switchyard/gateway';
import { createEtcdClient } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { scratchDir } from '../fixtures/cli-files.js';
import { cli, startCli } from '../fixtures/cli-run.js';
import { uniqueNamespace } from '../harness/servers.js';

const endpoint = inject('etcdEndpoint');
const amqpUrl = inject('amqpUrl');
const namespace = uniqueNamespace('cli-routes');
const env = { SWITCHYARD_ETCD: endpoint, SWITCHYARD_NAMESPACE: namespace };
const files = scratchDir('routes');
const etcd = createEtcdClient(endpoint);

const v1 = `
routes:
  - id: orders-read
    match: { path: /api/orders/:id, methods: [GET] }
    target: { type: http, service: orders, balancer: round-robin }
  - id: echo-say
    match: { path: /api/echo, methods: [POST] }
    target: { type: rpc, service: cli-routes-echo, method: say }
    auth: { mode: required, scopes: [echo] }
`;
// orders-read changes one field; echo-say is unchanged; payments is new.
const v2 = `
- id: orders-read
  match: { path: /api/orders/:id, methods: [GET] }
  target: { type: http, service: orders, balancer: p2c-latency }
- id: echo-say
  match: { path: /api/echo, methods: [POST] }
  target: { type: rpc, service: cli-routes-echo, method: say }
  auth: { mode: required, scopes: [echo] }
- id: payments
  match: { path: /api/payments/charge, methods: [POST] }
  target: { type: rpc, service: payments, method: charge }
`;
const v3 = `
- id: payments
  match: { path: /api/payments/charge, methods: [POST] }
  target: { type: rpc, service: payments, method: charge }
`;

/**
 * The route keys with their values and each key's mod revision: any write under the
 * prefix (a put, even of the same value, or a delete) changes it. Not the header's
 * revision: that is the whole cluster's, moved by test files running beside this one.
 */
async function snapshot() {
  const res = await etcd.getAll().prefix(routesPrefix(namespace)).exec();
  return {
    modRevisions: Object.fromEntries(res.kvs.map((kv) => [kv.key.toString(), String(kv.mod_revision)])),
    kvs: Object.fromEntries(res.kvs.map((kv) => [kv.key.toString(), JSON.parse(kv.value.toString())])),
  };
}

const apply = (file: string, ...flags: string[]) => cli(['routes', 'apply', '-f', file, ...flags], { env });

let store: RouteStore;

beforeAll(async () => {
  files.write('v1.yaml', v1);
  files.write('v2.yaml', v2);
  files.write('v3.yaml', v3);
  store = new RouteStore({ source: new EtcdRouteSource({ endpoints: endpoint, namespace }) });
  await store.start();
});

afterAll(async () => {
  await store.close();
  await etcd.delete().prefix(`/${namespace}/`).exec();
  etcd.close();
  files.remove();
});

describe('switchyard routes apply', () => {
  it('--dry-run shows the diff and writes nothing', async () => {
    const before = await snapshot();
    const r = await apply(`${files.dir}/v1.yaml`, '--dry-run');
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/\+ orders-read\s+added/);
    expect(r.stdout).toMatch(/\+ echo-say\s+added/);
    expect(r.stdout).toContain('2 added, 0 changed, 0 unchanged, 0 removed');
    expect(r.stdout).toContain('dry run: nothing was written');
    expect(await snapshot()).toEqual(before);
  });

  it('reads the file from stdin with -f -', async () => {
    const r = await cli(['routes', 'apply', '-f', '-', '--dry-run'], { env, stdin: v1 });
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/^stdin -> etcd \/sytest-[^/]*cli-routes-[^/]+\/routes\/$/m);
    expect(r.stdout).toContain('2 added');
  });

  it('applies the file, and the gateway route source sees every route', async () => {
    const t0 = performance.now();
    const r = await apply(`${files.dir}/v1.yaml`);
    const applied = performance.now();
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/applied in 1 transaction \(etcd revision \d+\)/);
    const { kvs } = await snapshot();
    expect(Object.keys(kvs).sort()).toEqual([`/${namespace}/routes/echo-say`, `/${namespace}/routes/orders-read`]);
    expect(kvs[`/${namespace}/routes/orders-read`]).toEqual({
      id: 'orders-read',
      match: { path: '/api/orders/:id', methods: ['GET'] },
      target: { type: 'http', service: 'orders', balancer: 'round-robin' },
    });
    await until(() => store.table.get('orders-read') !== undefined && store.table.get('echo-say') !== undefined);
    const seen = performance.now();
    console.log(
      `routes apply (2 routes, in-process, validate + read + 1 txn): ${(applied - t0).toFixed(1)} ms; ` +
        `a watching route store had both ${(seen - applied).toFixed(1)} ms after the command returned`,
    );
    expect(store.rejected()).toEqual([]);
    const hit = store.match('any.host', 'GET', '/api/orders/42');
    expect(hit).toMatchObject({ methodNotAllowed: false, route: { id: 'orders-read' }, params: { id: '42' } });
  });

  it('a second apply of the same file is a no-op: nothing written, same revision', async () => {
    const before = await snapshot();
    const r = await apply(`${files.dir}/v1.yaml`);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain('0 added, 0 changed, 2 unchanged, 0 removed');
    expect(r.stdout).toContain('etcd already matches the file: nothing to write');
    expect(await snapshot()).toEqual(before);
  });

  it('shows changes field by field, keeps routes not in the file, and --json says the same', async () => {
    const dry = await apply(`${files.dir}/v3.yaml`, '--dry-run');
    expect(dry.stdout).toMatch(/! orders-read\s+not in the file; kept \(add --prune to delete it\)/);
    const r = await cli(['routes', 'apply', '-f', `${files.dir}/v2.yaml`, '--json'], { env });
    expect(r.code).toBe(EXIT.OK);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      dryRun: false,
      applied: true,
      added: ['payments'],
      unchanged: ['echo-say'],
      removed: [],
      kept: [],
      changed: [
        {
          id: 'orders-read',
          fields: [{ pointer: '/target/balancer', kind: 'changed', before: 'round-robin', after: 'p2c-latency' }],
        },
      ],
    });
    expect((await snapshot()).kvs[`/${namespace}/routes/orders-read`].target.balancer).toBe('p2c-latency');
    await until(
      () =>
        store.table.get('orders-read')?.definition.target.type === 'http' && store.table.get('payments') !== undefined,
    );
  });

  it('without --prune keeps extra routes; with --prune deletes them', async () => {
    const kept = await apply(`${files.dir}/v3.yaml`);
    expect(kept.stdout).toContain('0 added, 0 changed, 1 unchanged, 0 removed, 2 kept');
    expect(Object.keys((await snapshot()).kvs)).toHaveLength(3);
    const pruned = await apply(`${files.dir}/v3.yaml`, '--prune');
    expect(pruned.code).toBe(EXIT.OK);
    expect(pruned.stdout).toMatch(/- orders-read\s+removed/);
    expect(pruned.stdout).toMatch(/- echo-say\s+removed/);
    expect(Object.keys((await snapshot()).kvs)).toEqual([`/${namespace}/routes/payments`]);
    await until(() => store.table.get('orders-read') === undefined && store.table.size === 1);
  });

  it('an invalid file is refused with every reason and nothing is written, even valid routes', async () => {
    const bad = files.write(
      'bad.yaml',
      `
- id: fine
  match: { path: /fine }
  target: { type: rpc, service: s, method: m }
- id: broken
  match: { path: /a/, methods: [FETCH] }
  target: { type: http, service: s }
`,
    );
    const before = await snapshot();
    const r = await cli(['routes', 'apply', '-f', bad, '--prune'], { env });
    expect(r.code).toBe(EXIT.FAILED);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('bad.yaml has 1 invalid route; nothing was written [INVALID_ARGUMENT]');
    expect(r.stderr).toMatch(/bad\.yaml\[1\] \(broken\):\n\s+\/match\/methods\/0: must be one of/);
    expect(await snapshot()).toEqual(before);
  });

  it('a transaction whose keys moved since they were read writes nothing (FAILED_PRECONDITION)', async () => {
    const stored = await readStoredRoutes(etcd, namespace);
    const desired = validateRoutesFile(v1, 'v1.yaml');
    const plan = planRoutes(desired, stored.routes, { prune: true });
    // Someone else writes payments after the plan was made.
    await etcd.put(`/${namespace}/routes/payments`).value(JSON.stringify({ id: 'payments', changed: true }));
    const before = await snapshot();
    await expect(applyRoutePlan(etcd, namespace, plan)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(await snapshot()).toEqual(before);
    // The CLI converges again from what is there now.
    expect((await apply(`${files.dir}/v3.yaml`, '--prune')).code).toBe(EXIT.OK);
  });
});

describe('switchyard routes list / get / delete', () => {
  it('lists the stored routes and marks an invalid one', async () => {
    await etcd.put(`/${namespace}/routes/hand-written`).value('{"id":"hand-written","match":{"path":"/x/"}}');
    const r = await cli(['routes', 'list'], { env });
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/^ID\s+PRIORITY\s+HOSTS\s+METHODS\s+PATH\s+TARGET\s+STATUS$/m);
    expect(r.stdout).toMatch(/^payments\s+0\s+\*\s+POST\s+\/api\/payments\/charge\s+rpc payments\.charge\s+ok$/m);
    expect(r.stdout).toMatch(/^hand-written\s+.*INVALID: \/target: is required/m);
    const json = JSON.parse((await cli(['routes', 'list', '--json'], { env })).stdout);
    expect(json.map((x: { id: string; valid: boolean }) => [x.id, x.valid])).toEqual([
      ['hand-written', false],
      ['payments', true],
    ]);
  });

  it('gets one route as JSON; a missing one exits 1 with NOT_FOUND', async () => {
    const r = await cli(['routes', 'get', 'payments'], { env });
    expect(r.code).toBe(EXIT.OK);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'payments', target: { method: 'charge' } });
    const missing = await cli(['routes', 'get', 'nope', '--json'], { env });
    expect(missing.code).toBe(EXIT.FAILED);
    expect(JSON.parse(missing.stderr)).toMatchObject({ code: 'NOT_FOUND', details: { id: 'nope' } });
  });

  it('deletes one route; deleting it again is NOT_FOUND', async () => {
    expect((await cli(['routes', 'delete', 'hand-written'], { env })).stdout).toContain('deleted route hand-written');
    expect((await snapshot()).kvs[`/${namespace}/routes/hand-written`]).toBeUndefined();
    const again = await cli(['routes', 'delete', 'hand-written'], { env });
    expect(again.code).toBe(EXIT.FAILED);
    expect(again.stderr).toMatch(/no route "hand-written".*\[NOT_FOUND\]/);
  });
});

describe('switchyard gateway serves what routes apply wrote', () => {
  const secret = 'cli-routes-gateway-secret-0123456789abcdef';
  let echo: AmqpTransport;

  beforeAll(async () => {
    echo = new AmqpTransport({ url: amqpUrl, namespace });
    await echo.start();
    await echo.serve('cli-routes-echo', {
      say: { handler: (req) => ({ said: req.payload, caller: req.headers['x-caller'] }) },
    });
  });
  afterAll(() => echo.close());

  it('routes an authenticated request over RPC, then drains and exits 0 on stop', async () => {
    const gwEnv = {
      ...env,
      SWITCHYARD_AMQP: amqpUrl,
      SWITCHYARD_SCHEMAS: 'none',
      [DEV_JWT_SECRET_ENV]: secret,
    };
    const gateway = startCli(['gateway', '--port', '0', '--admin-port', 'off', '--log-level', 'warn'], { env: gwEnv });
    try {
      const [, url] = await gateway.stderr.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      expect((await apply(`${files.dir}/v1.yaml`, '--prune')).code).toBe(EXIT.OK);
      const token = (await cli(['token', '--sub', 'tester', '--scope', 'echo'], { env: gwEnv })).stdout.trim();
      // The gateway follows etcd: retry until the new table is in place.
      let res: Response | undefined;
      for (let i = 0; i < 50; i++) {
        res = await fetch(`${url}/api/echo`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ hello: 'gateway' }),
        });
        if (res.status !== 404) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(res!.status).toBe(200);
      expect(await res!.json()).toEqual({ said: { hello: 'gateway' }, caller: 'tester' });
      const anonymous = await fetch(`${url}/api/echo`, { method: 'POST', body: '{}' });
      expect(anonymous.status).toBe(401);
    } finally {
      gateway.stop();
    }
    expect(await gateway.done).toBe(EXIT.OK);
    expect(gateway.stderr.text).toContain('stopping (draining requests in flight)');
  });
});

/** Resolves once `check` holds for the route store. */
function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`route store did not reach the expected table within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = store.subscribe(() => {
      if (!check()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}
