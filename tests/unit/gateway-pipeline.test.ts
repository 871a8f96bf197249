import { connect, type Socket } from 'node:net';
import { JwksKeySource, MemoryRouteSource, signDevToken } from '@switchyard/gateway';
import { createInfrastructure, createService, type Infrastructure, type Service } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  quietLogger,
  type RunningGateway,
  SCHEMAS_DIR,
  send,
  sendRaw,
  startGateway,
  startUpstream,
  statusesOf,
  type TestUpstream,
} from '../fixtures/gateway-harness.js';

// The request pipeline in embedded mode (in-memory registry and transport): every stage
// answers with the documented status and JSON body, and routes reload without a restart.

const charge = {
  orderId: 'ord_7Hc2Lq9XkP',
  amount: { amount: 2500, currency: 'EUR' },
  method: { kind: 'card', token: 'tok_4eC39HqLyjWDarjt' },
  idempotencyKey: 'charge-test-0001',
};

let infra: Infrastructure;
let upstream: TestUpstream;
let payments: Service;
let routes: MemoryRouteSource;
let gw: RunningGateway;
let token: string;

beforeAll(async () => {
  infra = await createInfrastructure({ env: { SWITCHYARD_SCHEMAS: SCHEMAS_DIR }, logger: quietLogger });
  upstream = await startUpstream('orders');
  await upstream.register(infra.registry, 'orders');
  payments = createService({
    name: 'payments',
    version: '1.0.0',
    infra,
    methods: {
      charge: (req: typeof charge, ctx) => ({
        paid: req.amount,
        caller: ctx.caller,
        requestId: ctx.headers['x-request-id'],
        traceparent: ctx.headers.traceparent,
        scopes: ctx.headers['x-switchyard-scopes'],
      }),
      explode: () => {
        throw new TypeError('secret detail at /srv/payments/handler.ts:42');
      },
    },
  });
  await payments.start();
  routes = new MemoryRouteSource([
    {
      id: 'orders',
      match: { path: '/api/orders/*', methods: ['GET', 'POST'] },
      target: { type: 'http', service: 'orders', stripPrefix: '/api' },
      auth: { mode: 'required', scopes: ['orders:read'] },
      maxBodyBytes: 100,
    },
    {
      id: 'open',
      match: { path: '/open/*' },
      target: { type: 'http', service: 'orders' },
      auth: { mode: 'off' },
    },
    {
      id: 'charge',
      match: { path: '/api/charge', methods: ['POST'] },
      target: { type: 'rpc', service: 'payments', method: 'charge' },
      auth: { mode: 'required', scopes: ['payments:charge'] },
      requestSchema: 'https://schemas.switchyard.dev/payments/payment.charge.request.json',
    },
    {
      id: 'explode',
      match: { path: '/api/explode', methods: ['POST'] },
      target: { type: 'rpc', service: 'payments', method: 'explode' },
      auth: { mode: 'off' },
    },
  ]);
  gw = await startGateway({ infra, routes, maxHeaderBytes: 4096 });
  token = await signDevToken({ sub: 'alice', scopes: ['orders:read', 'payments:charge'] });
});

afterAll(async () => {
  await gw?.gateway.close();
  await payments?.close();
  await upstream?.close();
  await infra?.close();
});

const auth = () => ({ authorization: `Bearer ${token}` });

describe('gateway pipeline (embedded)', () => {
  it('proxies an authorised request with the upstream path, identity headers and request id', async () => {
    const before = upstream.seen.length;
    const r = await send(gw.url, '/api/orders/42?x=1', { headers: { ...auth(), 'x-request-id': 'req-123' } });
    expect(r.status).toBe(200);
    expect(r.headers['x-request-id']).toBe('req-123');
    const seen = upstream.seen[before]!;
    expect(seen.url).toBe('/orders/42?x=1');
    expect(seen.headers['x-request-id']).toBe('req-123');
    expect(seen.headers['x-switchyard-subject']).toBe('alice');
    expect(seen.headers['x-switchyard-auth']).toBe('jwt');
    // The credential is consumed at the edge.
    expect(seen.headers.authorization).toBeUndefined();
  });

  it('generates a request id when none (or a bad one) is sent', async () => {
    const r1 = await send(gw.url, '/open/x');
    const r2 = await send(gw.url, '/open/x', { headers: { 'x-request-id': 'bad id with spaces' } });
    for (const r of [r1, r2]) expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r1.headers['x-request-id']).not.toBe(r2.headers['x-request-id']);
  });

  it('answers 404 and 405 (with Allow) as JSON', async () => {
    const nf = await send(gw.url, '/nowhere');
    expect(nf.status).toBe(404);
    expect(nf.json()).toMatchObject({ code: 'NOT_FOUND', details: { reason: 'route_not_found' } });
    expect(nf.json().requestId).toBe(nf.headers['x-request-id']);
    const na = await send(gw.url, '/api/orders/1', { method: 'DELETE', headers: auth() });
    expect(na.status).toBe(405);
    expect(na.headers.allow).toBe('GET, HEAD, POST');
    expect(na.json()).toMatchObject({ details: { reason: 'method_not_allowed', allowed: ['GET', 'HEAD', 'POST'] } });
  });

  it('refuses a body over the route limit: declared (413 before reading) and chunked', async () => {
    const before = upstream.seen.length;
    const declared = await send(gw.url, '/api/orders/1', { method: 'POST', headers: auth(), body: 'x'.repeat(101) });
    expect(declared.status).toBe(413);
    expect(declared.json()).toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      details: { reason: 'body_too_large', limitBytes: 100 },
    });
    const chunk = 'y'.repeat(60);
    const raw = await sendRaw(
      gw.port,
      `POST /api/orders/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `3c\r\n${chunk}\r\n3c\r\n${chunk}\r\n0\r\n\r\n`,
    );
    expect(statusesOf(raw)).toEqual([413]);
    const ok = await send(gw.url, '/api/orders/1', { method: 'POST', headers: auth(), body: 'z'.repeat(100) });
    expect(ok.status).toBe(200);
    expect(upstream.seen.length).toBe(before + 1);
    expect(upstream.seen.at(-1)!.body).toBe('z'.repeat(100));
  });

  it('streams a chunked body within the limit to the upstream', async () => {
    const raw = await sendRaw(
      gw.port,
      `POST /api/orders/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        `5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`,
    );
    expect(statusesOf(raw)).toEqual([200]);
    expect(upstream.seen.at(-1)!.body).toBe('hello world');
  });

  it('answers 431 for a head over maxHeaderBytes, as JSON', async () => {
    const raw = await sendRaw(gw.port, `GET /open/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`);
    expect(statusesOf(raw)).toEqual([431]);
    expect(raw).toContain('"reason":"headers_too_large"');
  });

  it('bridges an RPC route: JSON in, the reply out, with caller, request id and trace', async () => {
    const r = await send(gw.url, '/api/charge', {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', 'x-request-id': 'rpc-1' },
      body: JSON.stringify(charge),
    });
    expect(r.status).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({ paid: charge.amount, caller: 'alice', requestId: 'rpc-1' });
    expect(body.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    expect(body.scopes).toBe('orders:read payments:charge');
  });

  it('validates an RPC body against the route schema: 400 listing every violation', async () => {
    const r = await send(gw.url, '/api/charge', {
      method: 'POST',
      headers: auth(),
      body: JSON.stringify({ orderId: 'nope', amount: { amount: -1, currency: 'EUR' } }),
    });
    expect(r.status).toBe(400);
    const body = r.json();
    expect(body.code).toBe('INVALID_ARGUMENT');
    const pointers = body.details.violations.map((v: { pointer: string }) => v.pointer);
    expect(pointers).toEqual(expect.arrayContaining(['/orderId', '/amount/amount']));
    expect(body.details.violations.length).toBeGreaterThanOrEqual(4); // + missing method, idempotencyKey
    const notJson = await send(gw.url, '/api/charge', { method: 'POST', headers: auth(), body: '{"orderId":' });
    expect(notJson.status).toBe(400);
    expect(notJson.json().details.reason).toBe('invalid_json');
  });

  it('never shows internals: a handler that throws a plain Error becomes a bare INTERNAL', async () => {
    const r = await send(gw.url, '/api/explode', { method: 'POST', body: '{}' });
    expect(r.status).toBe(500);
    expect(r.json()).toMatchObject({ code: 'INTERNAL', retryable: false });
    expect(r.text).not.toMatch(/secret detail|handler\.ts|at \w+ \(|\n\s+at /);
  });

  it('serves /healthz and /readyz on the public port, and metrics on the admin port', async () => {
    expect((await send(gw.url, '/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await send(gw.url, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json()).toMatchObject({ ready: true, checks: { routes: { ready: true, source: 'memory' } } });
    expect((await send(gw.url, '/_switchyard/routes')).status).toBe(404); // admin listener only
    const routesDoc = await send(gw.adminUrl, '/_switchyard/routes');
    expect(routesDoc.json().routes.map((r: { id: string }) => r.id)).toEqual(['charge', 'explode', 'open', 'orders']);
    const metrics = (await send(gw.adminUrl, '/metrics')).text;
    expect(metrics).toMatch(/switchyard_gateway_requests_total\{route="orders",method="GET",status="200"\} \d+/);
    expect(metrics).toMatch(/switchyard_gateway_rejected_total\{route="orders",reason="size"\} [1-9]/);
    expect(metrics).toMatch(/switchyard_gateway_rejected_total\{route="_unmatched",reason="not_found"\} [1-9]/);
  });

  it('applies route changes at once: auth recompiled, new routes served, removed ones gone', async () => {
    routes.put({
      id: 'open',
      match: { path: '/open/*' },
      target: { type: 'http', service: 'orders' },
      auth: { mode: 'required', scopes: ['admin'] },
    });
    const denied = await send(gw.url, '/open/x', { headers: auth() });
    expect(denied.status).toBe(403);
    expect(denied.json().details.reason).toBe('insufficient_scope');
    expect((await send(gw.url, '/open/x')).headers['www-authenticate']).toMatch(/^Bearer realm="switchyard"/);
    routes.put({
      id: 'fresh',
      match: { path: '/fresh' },
      target: { type: 'http', service: 'orders' },
      auth: { mode: 'off' },
    });
    expect((await send(gw.url, '/fresh')).status).toBe(200);
    routes.delete('fresh');
    expect((await send(gw.url, '/fresh')).status).toBe(404);
  });

  it('a bad route never disturbs the others; its last good version keeps serving', async () => {
    routes.put({
      id: 'fresh2',
      match: { path: '/fresh2' },
      target: { type: 'http', service: 'orders' },
      auth: { mode: 'off' },
    });
    routes.put({ id: 'fresh2', match: { path: '/fresh2' }, target: { type: 'ftp' } });
    await eventually(async () => expect((await send(gw.url, '/fresh2')).status).toBe(200));
    expect((await send(gw.url, '/api/orders/1', { headers: auth() })).status).toBe(200);
  });

  it('Expect: 100-continue: refused before the body is sent, continued once the checks pass', async () => {
    const tooBig = await conversation(gw.port, async (c) => {
      c.send(
        `POST /api/orders/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n`,
      );
      return c.read();
    });
    expect(tooBig).toMatch(/^HTTP\/1\.1 413 /);
    expect(tooBig).not.toContain('100 Continue');
    const unauthorised = await conversation(gw.port, async (c) => {
      c.send('POST /api/orders/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
      return c.read();
    });
    expect(unauthorised).toMatch(/^HTTP\/1\.1 401 /);
    const before = upstream.seen.length;
    const accepted = await conversation(gw.port, async (c) => {
      c.send(
        `POST /api/orders/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      );
      const first = await c.read();
      c.send('hello');
      return first + (await c.read());
    });
    expect(accepted).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(upstream.seen.length).toBe(before + 1);
    expect(upstream.seen.at(-1)!.body).toBe('hello');
  });

  it('passes WebSocket upgrades through after the same checks', async () => {
    const refused = await conversation(gw.port, async (c) => {
      c.send('GET /api/orders/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      return c.read();
    });
    expect(refused).toMatch(/^HTTP\/1\.1 401 /);
    const echoed = await conversation(gw.port, async (c) => {
      c.send(
        `GET /api/orders/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
      );
      const head = await c.read();
      c.send('ping');
      return head + (await c.read());
    });
    expect(echoed).toMatch(/^HTTP\/1\.1 101 /);
    expect(echoed).toContain('orders:ping');
    const seen = upstream.seen.at(-1)!;
    expect(seen.url).toBe('/orders/ws');
    expect(seen.headers['x-switchyard-subject']).toBe('alice');
    // The client went away: the gateway closes the upstream side too.
    await eventually(() => expect(upstream.openUpgrades()).toBe(0), 3_000);
  });
});

describe('an identity provider that is down at startup', () => {
  it('does not keep the gateway down: open routes serve, JWT routes answer 503 until it is back', async () => {
    const g = await startGateway({
      infra,
      routes: new MemoryRouteSource([
        { id: 'open', match: { path: '/open/*' }, target: { type: 'http', service: 'orders' }, auth: { mode: 'off' } },
        { id: 'closed', match: { path: '/closed' }, target: { type: 'http', service: 'orders' } },
      ]),
      auth: { jwt: { keySource: new JwksKeySource({ url: 'http://127.0.0.1:9/jwks.json', timeoutMs: 500 }) } },
    });
    try {
      expect((await send(g.url, '/open/x')).status).toBe(200);
      const r = await send(g.url, '/closed', { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(503);
      expect(r.json().code).toBe('UNAVAILABLE');
      expect((await send(g.url, '/closed')).status).toBe(401);
    } finally {
      await g.gateway.close();
    }
  });
});

interface Conversation {
  send(text: string): void;
  /** Everything received until 150 ms of silence. */
  read(): Promise<string>;
}

/** A raw-socket exchange in turns (send, read what comes back, send more). */
async function conversation<T>(port: number, talk: (c: Conversation) => Promise<T>): Promise<T> {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let buffered = '';
  socket.on('data', (d) => {
    buffered += d.toString('latin1');
  });
  socket.on('error', () => {});
  const c: Conversation = {
    send: (text) => socket.write(text),
    read: async () => {
      let last = -1;
      while (last !== buffered.length) {
        last = buffered.length;
        await new Promise((r) => setTimeout(r, 150));
      }
      const out = buffered;
      buffered = '';
      return out;
    },
  };
  try {
    return await talk(c);
  } finally {
    socket.destroy();
  }
}
