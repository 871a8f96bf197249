/**
 * The console's server side without a browser, on an embedded gateway: the bundle's cache
 * headers and the 503 when it is not built, the admin-port-only mode, try-it (invalid and
 * valid bodies), the compatibility check, recent errors, the event stream and the
 * metrics samples.
 */
import { devJwtVerifierOptions, MemoryRouteSource, signDevToken } from '@switchyard/gateway';
import { createInfrastructure, type Infrastructure } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  quietLogger,
  type RunningGateway,
  SCHEMAS_DIR,
  startGateway,
  startUpstream,
  type TestUpstream,
} from '../fixtures/gateway-harness.js';

const ORDER_SCHEMA = 'https://schemas.switchyard.dev/orders/order.create.request.json';

const routes = () =>
  new MemoryRouteSource([
    {
      id: 'orders-create',
      match: { path: '/api/orders', methods: ['POST'] },
      target: { type: 'http', service: 'orders' },
      requestSchema: ORDER_SCHEMA,
      auth: { mode: 'required', scopes: ['switchyard:operator'] },
    },
  ]);

const validOrder = {
  customerId: 'cus_Q4n8Zt2Lmx',
  items: [{ sku: 'MUG-BLUE-350', quantity: 2, unitPrice: { amount: 1250, currency: 'EUR' } }],
};

/** fetch, with the JSON body read by shape (a wrong shape fails the assertion). */
async function send(url: string, init: RequestInit) {
  const res = await fetch(url, init);
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are read by shape.
  return { status: res.status, json: () => res.json() as Promise<any> };
}

describe('the console API (embedded gateway)', () => {
  let infra: Infrastructure;
  let upstream: TestUpstream;
  let gw: RunningGateway;
  let operator: string;
  const api = (path: string, body?: unknown) =>
    send(`${gw.adminUrl}/console/api/${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    infra = await createInfrastructure({ env: { SWITCHYARD_SCHEMAS: SCHEMAS_DIR }, logger: quietLogger });
    upstream = await startUpstream('orders');
    await upstream.register(infra.registry, 'orders');
    gw = await startGateway({
      infra,
      routes: routes(),
      auth: { jwt: devJwtVerifierOptions() },
      console: { sampleIntervalMs: 250 },
    });
    operator = await signDevToken({ sub: 'op', scopes: ['switchyard:operator'] });
  });
  afterAll(async () => {
    await gw?.gateway.close();
    await upstream?.close();
    await infra?.close();
  });

  it('serves hashed assets as immutable and the page as no-store, and nothing outside the bundle', async () => {
    const page = await fetch(`${gw.adminUrl}/console/`);
    const html = await page.text();
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${gw.adminUrl}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-type')).toContain('text/javascript');
    expect((await fetch(`${gw.adminUrl}/console/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${gw.adminUrl}/console/..%2f..%2fpackage.json`)).status).toBe(404);
  });

  it('try-it lists every violation with its pointer, and sends a valid body as the operator', async () => {
    const invalid = await (await api('try', { route: 'orders-create', body: { customerId: 7 } })).json();
    expect(invalid.outcome).toBe('invalid');
    expect(invalid.schema).toBe(ORDER_SCHEMA);
    expect(invalid.violations.map((v: { pointer: string }) => v.pointer)).toEqual(
      expect.arrayContaining(['/customerId', '/items']),
    );
    expect(upstream.seen).toHaveLength(0);

    const called = await (await api('try', { route: 'orders-create', body: validOrder })).json();
    expect(called).toMatchObject({ outcome: 'called', status: 200, truncated: false });
    expect(upstream.seen).toHaveLength(1);
    expect(JSON.parse(upstream.seen[0]!.body)).toEqual(validOrder);

    const unknown = await api('try', { route: 'nope', body: {} });
    expect(unknown.status).toBe(404);
  });

  it('try-it calls an RPC method directly, validated against the request schema it declares', async () => {
    await infra.transport.serve('calc', {
      place: { handler: (req) => ({ placed: req.payload, by: req.headers['x-caller'] }) },
    });
    const reg = await infra.registry.register({
      service: 'calc',
      version: '1.0.0',
      methods: { place: { request: ORDER_SCHEMA } },
    });
    try {
      const rpc = { service: 'calc', method: 'place' };
      const invalid = await (await api('try', { rpc, body: { items: [] } })).json();
      expect(invalid.outcome).toBe('invalid');
      expect(invalid.violations.map((v: { pointer: string }) => v.pointer)).toContain('/customerId');
      const called = await (await api('try', { rpc, body: validOrder })).json();
      expect(called).toMatchObject({ outcome: 'called', status: 200 });
      expect(JSON.parse(called.body)).toEqual({ placed: validOrder, by: 'op' });
      const missing = await api('try', { rpc: { service: 'calc', method: 'nope' }, body: {} });
      expect(missing.status).toBe(404);
    } finally {
      await reg.deregister();
    }
  });

  it('checks a pasted schema for backward compatibility with the loaded version', async () => {
    const current = (await (await api(`schema-history?id=${encodeURIComponent(ORDER_SCHEMA)}`)).json())[0].schema;
    expect((await (await api('schema-check', { id: ORDER_SCHEMA, schema: current })).json()).breaks).toEqual([]);
    const stricter = { ...current, required: [...(current.required ?? []), 'couponCode'] };
    const { breaks } = await (await api('schema-check', { id: ORDER_SCHEMA, schema: stricter })).json();
    expect(breaks.length).toBeGreaterThan(0);
    const list = await (await api('schemas')).json();
    expect(list.map((s: { id: string }) => s.id)).toContain(ORDER_SCHEMA);
  });

  it('counts the errors the gateway answered with, and streams changes and metrics samples', async () => {
    const stream = await fetch(`${gw.adminUrl}/console/api/events`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const until = async (pattern: RegExp) => {
      const deadline = Date.now() + 5_000;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in the stream:\n${text}`);
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        text += value;
      }
    };
    try {
      await until(/event: errors\n/);
      expect((await fetch(`${gw.url}/api/orders`, { method: 'POST', body: '{}' })).status).toBe(401);
      await until(/"UNAUTHENTICATED":1/);
      const errors = await (await api('errors')).json();
      expect(errors.byCode.UNAUTHENTICATED).toBe(1);
      expect(errors.recent[0]).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, route: 'orders-create' });
      await until(/event: metrics\ndata: \{"t":\d+,"requestRate"/);
      const reg = await infra.registry.register({ service: 'late', version: '2.0.0' });
      await until(/event: service\ndata: \{"name":"late"/);
      await reg.deregister();
    } finally {
      await reader.cancel();
    }
    await eventually(async () => expect((await (await api('metrics')).json()).length).toBeGreaterThan(0));
  });
});

describe('console modes', () => {
  it('admin-port mode needs no token; a missing bundle is a 503 naming the build step; false serves none', async () => {
    const gw = await startGateway({
      routes: new MemoryRouteSource([]),
      auth: { jwt: devJwtVerifierOptions() },
      console: { auth: 'admin-port', assetsDir: '/nonexistent/console-dist' },
    });
    try {
      expect(await (await fetch(`${gw.adminUrl}/console/api/session`)).json()).toEqual({
        subject: null,
        auth: 'admin-port',
      });
      const missing = await fetch(`${gw.adminUrl}/console/`);
      expect(missing.status).toBe(503);
      expect(await missing.json()).toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('npm run build:console'),
        details: { reason: 'console_not_built' },
      });
    } finally {
      await gw.gateway.close();
    }
    const off = await startGateway({ routes: new MemoryRouteSource([]), console: false });
    try {
      expect((await fetch(`${off.adminUrl}/console/api/session`)).status).toBe(404);
    } finally {
      await off.gateway.close();
    }
  });
});
