import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { UpstreamPool } from '@switchyard/gateway';
import type { MemoryRegistry, RegistryView } from '@switchyard/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../fixtures/gateway-tls.js';
import {
  eventually,
  httpRoute,
  rawExchange,
  registryWith,
  send,
  sleep,
  startFront,
  startUpstream,
  type TestFront,
  type TestUpstream,
} from '../fixtures/upstream-servers.js';

// Proxying through real servers on 127.0.0.1: what the upstream receives, what the client gets back.

let a: TestUpstream;
let registry: MemoryRegistry;
let view: RegistryView;
let pool: UpstreamPool;
let front: TestFront;

beforeAll(async () => {
  a = await startUpstream('a');
  ({ registry, view } = await registryWith('orders', [a]));
  pool = new UpstreamPool({ view });
  await pool.start();
  front = await startFront(pool, httpRoute('orders'));
});

afterEach(() => {
  a.seen.length = 0;
  a.handler = (_req, res) => res.end('ok');
  front.bufferBody = false;
  front.route = httpRoute('orders');
});

/** A front with its own handler (e.g. setting headers first, or an unusual query form). */
async function customFront(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

afterAll(async () => {
  await front.close();
  await pool.close();
  await registry.close();
  await a.close();
});

describe('forwarding', () => {
  it('sends method, path and the query untouched, and relays status, headers and body', async () => {
    a.handler = (req, res) => {
      res.writeHead(201, 'Made', { 'content-type': 'text/plain', 'x-upstream': 'a' });
      res.end(`${req.method} ${req.url}`);
    };
    const r = await send(front.port, '/api/orders/42?q=%7B%22a%22:1%7D&x=a%2Fb&&y');
    expect(r.status).toBe(201);
    expect(r.headers['x-upstream']).toBe('a');
    expect(r.body).toBe('GET /api/orders/42?q=%7B%22a%22:1%7D&x=a%2Fb&&y');
  });

  it('accepts the query with or without its "?"', async () => {
    a.handler = (req, res) => res.end(req.url);
    const route = httpRoute('orders');
    const f = await customFront((req, res) =>
      pool.forward({ req, res, route, upstreamPath: '/p', query: 'a=1', requestId: 'x', clientIp: '127.0.0.1' }),
    );
    expect((await send(f.port, '/whatever')).body).toBe('/p?a=1');
    await f.close();
  });

  it('streams a request body through (POST with Content-Length, and chunked)', async () => {
    a.handler = (_req, res, body) => res.end(`got ${body.length}: ${body.toString().slice(0, 12)}`);
    const big = 'x'.repeat(200_000);
    const r1 = await send(front.port, '/upload', {
      method: 'POST',
      body: big,
      headers: { 'content-type': 'text/plain' },
    });
    expect(r1.body).toBe(`got 200000: ${'x'.repeat(12)}`);
    expect(a.seen[0]!.headers['content-length']).toBe('200000');
    const chunked = await rawExchange(
      front.port,
      'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    );
    expect(chunked).toMatch(/got 11: hello world/);
    expect(a.seen[1]!.headers['transfer-encoding']).toBe('chunked');
  });

  it('a DELETE with a chunked body keeps its framing (no Content-Length: 0 ahead of the body)', async () => {
    a.handler = (_req, res, body) => res.end(`deleted with ${body.toString()}`);
    const out = await rawExchange(
      front.port,
      'DELETE /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nbody\r\n0\r\n\r\n',
    );
    expect(out).toMatch(/deleted with body/);
    expect(a.seen[0]!.headers['content-length']).toBeUndefined();
    expect(a.requests).toBeGreaterThan(0);
  });

  it('answers Expect: 100-continue itself and does not pass Expect on', async () => {
    a.handler = (_req, res, body) => res.end(`got ${body}`);
    const out = await new Promise<string>((resolve, reject) => {
      const s = connect(front.port, '127.0.0.1');
      let text = '';
      s.on('data', (d) => {
        text += d.toString();
        if (text.startsWith('HTTP/1.1 100') && !text.includes('got')) s.write('hello');
      });
      s.on('end', () => resolve(text));
      s.on('error', reject);
      s.write('POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    });
    expect(out).toMatch(/^HTTP\/1\.1 100 Continue/);
    expect(out).toMatch(/HTTP\/1\.1 200 OK[\s\S]*got hello$/);
    expect(a.seen[0]!.headers.expect).toBeUndefined();
  });

  it('sends a buffered body as is, with its own Content-Length', async () => {
    front.bufferBody = true;
    a.handler = (_req, res, body) => res.end(body);
    const r = await send(front.port, '/x', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: '{"a":1}',
    });
    expect(r.body).toBe('{"a":1}');
    expect(a.seen[0]!.headers['content-length']).toBe('7');
    expect(a.seen[0]!.headers['transfer-encoding']).toBeUndefined();
  });

  it('HEAD and 204/304 answers have no body', async () => {
    a.handler = (req, res) => {
      if (req.url === '/none') {
        res.writeHead(204);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': '5' });
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    };
    const head = await send(front.port, '/x', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('5');
    expect(head.body).toBe('');
    const none = await send(front.port, '/none');
    expect(none.status).toBe(204);
  });

  it('keeps repeated response headers (Set-Cookie), and headers the gateway set win', async () => {
    a.handler = (_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('x-ratelimit-remaining', '999');
      res.end('ok');
    };
    const plain = await send(front.port, '/cookies');
    expect(plain.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    // A front that sets a header before forwarding, as the rate limiter does.
    const f = await customFront((req, res) => {
      res.setHeader('x-ratelimit-remaining', '7');
      return pool.forward({
        req,
        res,
        route: front.route,
        upstreamPath: '/c',
        query: '',
        requestId: 'r',
        clientIp: '127.0.0.1',
      });
    });
    const preset = await send(f.port, '/cookies');
    expect(preset.headers['x-ratelimit-remaining']).toBe('7');
    expect(preset.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    await f.close();
  });

  it("writes the headers the pipeline passes along (responseHeaders) over the upstream's, and on error answers", async () => {
    a.handler = (_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('X-RateLimit-Remaining', '999');
      res.setHeader('x-request-id', 'from-upstream');
      res.end('ok');
    };
    const own = ['x-request-id', 'rid-1', 'x-ratelimit-remaining', '7'];
    const forward = (req: IncomingMessage, res: ServerResponse, route: typeof front.route) =>
      pool.forward({
        req,
        res,
        route,
        upstreamPath: '/c',
        query: '',
        requestId: 'rid-1',
        clientIp: '127.0.0.1',
        responseHeaders: own,
      });
    const f = await customFront((req, res) => forward(req, res, front.route));
    const ok = await send(f.port, '/cookies');
    expect(ok.status).toBe(200);
    expect(ok.headers['x-request-id']).toBe('rid-1');
    expect(ok.headers['x-ratelimit-remaining']).toBe('7');
    expect(ok.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(ok.body).toBe('ok');
    await f.close();
    // No instance of the route's service: the JSON error carries them too.
    const lonely = { ...front.route, target: { ...front.route.target, service: 'nobody-here' } } as typeof front.route;
    const g = await customFront((req, res) => forward(req, res, lonely));
    const failed = await send(g.port, '/cookies');
    expect(failed.status).toBe(503);
    expect(failed.headers['x-request-id']).toBe('rid-1');
    expect(failed.headers['x-ratelimit-remaining']).toBe('7');
    await g.close();
  });
});

describe('header hygiene', () => {
  it('strips hop-by-hop request headers, including those named in Connection', async () => {
    const out = await rawExchange(
      front.port,
      [
        'GET /hop HTTP/1.1',
        'Host: api.example.com',
        'Connection: close, X-Secret',
        'X-Secret: s3cret',
        'Keep-Alive: timeout=100',
        'TE: trailers',
        'Upgrade: h2c',
        'Proxy-Authorization: Basic Zm9vOmJhcg==',
        'Proxy-Connection: keep-alive',
        'X-End-To-End: kept',
        '',
        '',
      ].join('\r\n'),
    );
    expect(out).toMatch(/^HTTP\/1\.1 200/);
    const h = a.seen[0]!.headers;
    for (const gone of ['x-secret', 'keep-alive', 'te', 'upgrade', 'proxy-authorization', 'proxy-connection']) {
      expect(h[gone], gone).toBeUndefined();
    }
    // The pool's own keep-alive connection, not the client's "close".
    expect(h.connection).toBe('keep-alive');
    expect(h['x-end-to-end']).toBe('kept');
  });

  it('strips hop-by-hop response headers, including those named in Connection', async () => {
    a.handler = (_req, res) => {
      res.setHeader('connection', 'keep-alive, x-internal');
      res.setHeader('keep-alive', 'timeout=99');
      res.setHeader('x-internal', 'upstream only');
      res.setHeader('proxy-authenticate', 'Basic');
      res.setHeader('trailer', 'x-sum');
      res.setHeader('x-kept', 'yes');
      res.end('ok');
    };
    const out = await rawExchange(front.port, 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const head = out.split('\r\n\r\n')[0]!.toLowerCase();
    expect(head).toContain('x-kept: yes');
    expect(head).not.toContain('x-internal');
    expect(head).not.toContain('timeout=99');
    expect(head).not.toContain('proxy-authenticate');
    expect(head).not.toContain('trailer');
    // Node frames the response for the client itself and honours its Connection: close.
    expect(head).toContain('connection: close');
  });

  it('sets X-Forwarded-*, X-Real-IP and X-Request-Id, drops Forwarded, and sends the instance as Host', async () => {
    await send(front.port, '/fwd', {
      headers: {
        host: 'shop.example.com',
        'x-forwarded-for': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
        'x-request-id': 'spoofed',
      },
    });
    const h = a.seen[0]!.headers;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('shop.example.com');
    expect(h['x-real-ip']).toBe('127.0.0.1');
    expect(h['x-request-id']).toMatch(/^req-\d+$/);
    expect(h.forwarded).toBeUndefined();
    expect(h.host).toBe(`127.0.0.1:${a.port}`);
  });

  it('with preserveHost, the upstream sees the client Host', async () => {
    const p = new UpstreamPool({ view, preserveHost: true });
    const f = await startFront(p, httpRoute('orders'));
    await send(f.port, '/h', { headers: { host: 'shop.example.com' } });
    expect(a.seen[0]!.headers.host).toBe('shop.example.com');
    await f.close();
    await p.close();
  });
});

describe('https instances', () => {
  it("are verified against Node's CAs by default, and served once their CA is configured (upstream.tls.ca)", async () => {
    const cert = selfSignedCertificate();
    const server = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ secure: (req.socket as TLSSocket).encrypted === true, path: req.url }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await registryWith('tls-svc', [{ name: 'secure', url }]);
    const untrusting = new UpstreamPool({ view: r.view });
    const trusting = new UpstreamPool({ view: r.view, tls: { ca: cert.cert } });
    const f1 = await startFront(untrusting, httpRoute('tls-svc'));
    const f2 = await startFront(trusting, httpRoute('tls-svc'));
    try {
      // A self-signed certificate: the handshake fails, no request reaches the instance.
      const refused = await send(f1.port, '/orders');
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body)).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'connect' } });
      const served = await send(f2.port, '/orders?x=1');
      expect(served.status).toBe(200);
      expect(JSON.parse(served.body)).toEqual({ secure: true, path: '/orders?x=1' });
    } finally {
      await f1.close();
      await f2.close();
      await untrusting.close();
      await trusting.close();
      await r.registry.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      cert.cleanup();
    }
  });

  it('rejects a tls.ca that is not PEM certificates', () => {
    expect(() => new UpstreamPool({ view, tls: { ca: 'not a certificate' } })).toThrow(/tls\.ca/);
    expect(() => new UpstreamPool({ view, tls: { rejectUnauthorized: 'no' as never } })).toThrow(
      /tls\.rejectUnauthorized/,
    );
  });
});

describe('connections', () => {
  it('reuses upstream connections (keep-alive) instead of opening one per request', async () => {
    const before = a.connections;
    const client = new Agent({ keepAlive: true, maxSockets: 8 });
    for (let k = 0; k < 100; k++) await send(front.port, `/seq/${k}`, { agent: client });
    await Promise.all(Array.from({ length: 200 }, (_, k) => send(front.port, `/par/${k}`, { agent: client })));
    const opened = a.connections - before;
    console.log(
      `keep-alive: 300 requests (100 sequential, 200 at concurrency 8) opened ${opened} upstream connections`,
    );
    expect(opened).toBeLessThanOrEqual(8);
    client.destroy();
  });

  it('keeps the upstream connection after a HEAD request too', async () => {
    a.handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    };
    const before = a.connections;
    for (let k = 0; k < 20; k++) {
      const r = await send(front.port, `/head/${k}`, { method: k % 2 === 0 ? 'HEAD' : 'GET' });
      expect(r.status).toBe(200);
      expect(r.body).toBe(k % 2 === 0 ? '' : 'hello');
    }
    expect(a.connections - before).toBeLessThanOrEqual(1);
  });

  it('closes idle upstream connections after agent.idleTimeoutMs, before the upstream would', async () => {
    const b = await startUpstream('b');
    const r = await registryWith('idle', [b]);
    const p = new UpstreamPool({ view: r.view, agent: { idleTimeoutMs: 200 } });
    const f = await startFront(p, httpRoute('idle'));
    const open = () => new Promise<number>((resolve) => b.server.getConnections((_e, n) => resolve(n)));
    await send(f.port, '/idle');
    expect(await open()).toBe(1);
    await sleep(600);
    expect(await open()).toBe(0);
    await f.close();
    await p.close();
    await r.registry.close();
    await b.close();
  });

  it('closes the connections of an instance that leaves the registry, after its request in flight finished', async () => {
    const b = await startUpstream('b');
    const c = await startUpstream('c');
    const r = await registryWith('leaving', [b, c]);
    const p = new UpstreamPool({ view: r.view });
    const f = await startFront(p, httpRoute('leaving'));
    const open = (u: typeof b) => new Promise<number>((resolve) => u.server.getConnections((_e, n) => resolve(n)));
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    b.handler = (_req, res) => void held.then(() => res.end('b, late'));
    // Round-robin: one request each; b's is held open.
    const slow = send(f.port, '/one');
    expect(JSON.parse((await send(f.port, '/two')).body)).toEqual({ upstream: 'c' });
    await eventually(async () => (await open(b)) === 1, 2_000, 'the request at b');
    await r.registrations.get('b')!.deregister();
    await eventually(() => r.view.instances('leaving').length === 1, 2_000, 'b gone from the view');
    expect(JSON.parse((await send(f.port, '/three')).body)).toEqual({ upstream: 'c' });
    // b's connection stays while its request is in flight, and the request completes ...
    expect(await open(b)).toBe(1);
    release();
    expect(await slow).toMatchObject({ status: 200, body: 'b, late' });
    // ... then it is closed by the gateway, not left to b's keep-alive timer.
    await eventually(async () => (await open(b)) === 0, 2_000, 'b has no connection left');
    expect(await open(c)).toBe(1);
    await f.close();
    await p.close();
    await r.registry.close();
    await b.close();
    await c.close();
  });
});
