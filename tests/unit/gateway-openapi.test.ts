/**
 * /openapi.json through a real gateway (embedded registry, the repo's schemas): an OpenAPI
 * 3.1 document that a maintained validator accepts, with the routes' paths, parameters,
 * bodies from their schemas (bundled, local refs only), RPC replies from the method's
 * response schema, auth schemes and scopes, rate-limit headers and the error body. Only
 * public routes unless the caller has the operator scope; `?view=all` is 401 without
 * credentials and 403 without the scope; a route change shows without a restart.
 */
import { compileErrors, validate } from '@readme/openapi-parser';
import { MemoryRouteSource, pathTemplate, signDevToken } from '@switchyard/gateway';
import { createInfrastructure, type Infrastructure } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  quietLogger,
  type RunningGateway,
  SCHEMAS_DIR,
  send,
  startGateway,
} from '../fixtures/gateway-harness.js';

const ORDER_REQUEST = 'https://schemas.switchyard.dev/orders/order.create.request.json';
const ORDER_RESPONSE = 'https://schemas.switchyard.dev/orders/order.create.response.json';
const MONEY = 'https://schemas.switchyard.dev/common/money.json';

let infra: Infrastructure;
let gw: RunningGateway;
let routes: MemoryRouteSource;
let operator: string;
let client: string;

beforeAll(async () => {
  infra = await createInfrastructure({ env: { SWITCHYARD_SCHEMAS: SCHEMAS_DIR }, logger: quietLogger });
  await infra.registry.register({
    service: 'orders',
    version: '1.0.0',
    methods: {
      create: { request: ORDER_REQUEST, response: ORDER_RESPONSE },
      track: { response: MONEY, streaming: true },
      live: { request: ORDER_REQUEST, response: MONEY, kind: 'bidi' },
    },
  });
  routes = new MemoryRouteSource([
    {
      id: 'orders-create',
      description: 'Place an order',
      match: { path: '/orders', methods: ['POST'] },
      target: { type: 'rpc', service: 'orders', method: 'create' },
      auth: { mode: 'required', scopes: ['orders:write'] },
      rateLimit: { points: 10, durationSeconds: 60, key: 'subject' },
    },
    {
      id: 'orders-track',
      match: { path: '/orders/track', methods: ['POST'] },
      target: { type: 'rpc', service: 'orders', method: 'track' },
      auth: { mode: 'required', scopes: ['orders:write'] },
    },
    {
      id: 'orders-live',
      match: { path: '/orders/live', methods: ['GET'] },
      target: { type: 'rpc', service: 'orders', method: 'live', stream: 'websocket' },
      auth: { mode: 'required', scopes: ['orders:write'] },
    },
    {
      id: 'order-get',
      match: { path: '/orders/:id', methods: ['GET'] },
      target: { type: 'http', service: 'orders' },
      auth: { mode: 'optional' },
    },
    {
      id: 'files',
      match: { path: '/files/*' },
      target: { type: 'http', service: 'files' },
      auth: { mode: 'off' },
    },
  ]);
  gw = await startGateway({ infra, routes });
  operator = await signDevToken({ sub: 'ops', scopes: ['switchyard:operator'] });
  client = await signDevToken({ sub: 'alice', scopes: ['orders:write'] });
});

afterAll(async () => {
  await gw?.gateway.close();
  await infra?.close();
});

/** The validator's own verdict, its errors printed when it refuses. */
async function expectValid(doc: unknown): Promise<void> {
  const result = await validate(structuredClone(doc) as never);
  expect(result.valid ? '' : compileErrors(result)).toBe('');
}

async function openapi(headers: Record<string, string> = {}, query = '') {
  const r = await send(gw.url, `/openapi.json${query}`, { headers });
  return r;
}

describe('GET /openapi.json', () => {
  it('for an operator: every route, valid OpenAPI 3.1, bodies and replies from the schemas', async () => {
    const r = await openapi({ authorization: `Bearer ${operator}` });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    const doc = r.json();
    await expectValid(doc);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/files/{rest}',
      '/orders',
      '/orders/live',
      '/orders/track',
      '/orders/{id}',
    ]);

    // A WebSocket route: the upgrade is the operation, each message's schema in x-switchyard-websocket.
    const live = doc.paths['/orders/live'].get;
    expect(live.responses['200']).toBeUndefined();
    expect(live.responses['101'].description).toContain('WebSocket');
    expect(live.responses['426']).toBeDefined();
    expect(live.requestBody).toBeUndefined();
    expect(live['x-switchyard-websocket']).toEqual({
      subprotocols: ['bearer'],
      send: { $ref: '#/components/schemas/orders.order.create.request' },
      receive: { $ref: expect.stringMatching(/^#\/components\/schemas\/common\.money/) },
    });

    // A streaming method's route: NDJSON lines of its item schema (or the error), or SSE.
    const track = doc.paths['/orders/track'].post;
    expect(track['x-switchyard-stream']).toEqual({ framing: ['application/x-ndjson', 'text/event-stream'] });
    const line = track.responses['200'].content['application/x-ndjson'].schema.oneOf;
    expect(line[0].$ref).toMatch(/^#\/components\/schemas\/common\.money/);
    expect(line[1].properties.error.$ref).toBe('#/components/schemas/SwitchyardError');
    expect(track.responses['200'].content['text/event-stream']).toBeDefined();
    expect(track.responses['200'].content['application/json']).toBeUndefined();

    const create = doc.paths['/orders'].post;
    expect(create.operationId).toBe('orders-create');
    expect(create.summary).toBe('Place an order');
    expect(create.security).toEqual([{ bearer: ['orders:write'] }]);
    const body = create.requestBody.content['application/json'].schema.$ref as string;
    const reply = create.responses['200'].content['application/json'].schema.$ref as string;
    expect(body).toBe('#/components/schemas/orders.order.create.request');
    expect(reply).toBe('#/components/schemas/orders.order.create.response');
    expect(Object.keys(create.responses['200'].headers)).toContain('RateLimit-Remaining');
    for (const status of ['400', '401', '403', '429', '503']) expect(create.responses[status]).toBeDefined();

    // Bundled: the schemas it references came along, every $ref is local, no $id is left.
    const schemas = doc.components.schemas;
    expect(schemas['orders.line-item']).toBeDefined();
    expect(schemas['common.identifiers']).toBeDefined();
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]*"/g) ?? [];
    expect(refs.length).toBeGreaterThan(5);
    for (const ref of refs) expect(ref).toMatch(/^"\$ref":"#\/components\//);
    expect(JSON.stringify(schemas)).not.toContain('"$id"');
    expect(schemas['orders.order.create.request']['x-switchyard-schema']).toBe(ORDER_REQUEST);

    const get = doc.paths['/orders/{id}'].get;
    expect(get.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
    expect(get.security).toEqual([{}, { bearer: [] }]);
    expect(get.requestBody).toBeUndefined();
    // No methods listed: every method, each its own operation.
    const files = doc.paths['/files/{rest}'];
    expect(Object.keys(files).sort()).toEqual(['delete', 'get', 'options', 'patch', 'post', 'put']);
    expect(files.get.security).toEqual([]);
    expect(files.get.operationId).toBe('files.get');
  });

  it('for anyone else: only the routes callable without credentials', async () => {
    const none: Record<string, string> = {};
    for (const headers of [none, { authorization: `Bearer ${client}` }]) {
      const r = await openapi(headers);
      expect(r.status).toBe(200);
      expect(Object.keys(r.json().paths).sort()).toEqual(['/files/{rest}', '/orders/{id}']);
      await expectValid(r.json());
    }
  });

  it('?view=all: 401 without credentials, 403 without the operator scope, 200 with it', async () => {
    const anonymous = await openapi({}, '?view=all');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json().code).toBe('UNAUTHENTICATED');
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer /);
    const denied = await openapi({ authorization: `Bearer ${client}` }, '?view=all');
    expect(denied.status).toBe(403);
    expect(denied.json()).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(denied.json().message).toContain('switchyard:operator');
    const bad = await openapi({ authorization: 'Bearer not-a-token' });
    expect(bad.status).toBe(401);
    const ok = await openapi({ authorization: `Bearer ${operator}` }, '?view=all');
    expect(Object.keys(ok.json().paths)).toContain('/orders');
  });

  it('the admin listener serves every route without a token', async () => {
    const r = await send(gw.adminUrl, '/_switchyard/openapi.json');
    expect(r.status).toBe(200);
    expect(Object.keys(r.json().paths)).toContain('/orders');
  });

  it('a route added or removed shows at once, without a restart', async () => {
    routes.put({
      id: 'stock',
      match: { path: '/stock/:sku/levels', methods: ['GET'] },
      target: { type: 'http', service: 'stock' },
      auth: { mode: 'off' },
    });
    await eventually(async () => (await openapi()).json().paths['/stock/{sku}/levels'] !== undefined);
    routes.delete('stock');
    await eventually(async () => (await openapi()).json().paths['/stock/{sku}/levels'] === undefined);
  });
});

describe('the validator', () => {
  it('refuses a document with a broken operation and a dangling $ref (so its yes means something)', async () => {
    const r = await openapi({ authorization: `Bearer ${operator}` });
    const doc = r.json();
    doc.paths['/orders'].post.responses = 'none';
    doc.paths['/orders/{id}'].get.parameters[0].in = 'nowhere';
    const result = await validate(doc);
    expect(result.valid).toBe(false);
    const dangling = (await openapi({ authorization: `Bearer ${operator}` })).json();
    dangling.paths['/orders'].post.requestBody.content['application/json'].schema.$ref = '#/components/schemas/nope';
    expect((await validate(dangling)).valid).toBe(false);
  });
});

describe('pathTemplate', () => {
  it('turns :params and a final * into template parameters', () => {
    expect(pathTemplate('/a/:id/b/*')).toEqual({
      template: '/a/{id}/b/{rest}',
      params: [
        { name: 'id', rest: false },
        { name: 'rest', rest: true },
      ],
    });
    expect(pathTemplate('/x/:rest/**').template).toBe('/x/{rest}/{_rest}');
    expect(pathTemplate('/').template).toBe('/');
  });
});
