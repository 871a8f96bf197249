import { devJwtVerifierOptions, routeKey, signDevToken } from '@switchyard/gateway';
import type { Infrastructure } from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  eventually,
  type RunningGateway,
  send,
  sendRaw,
  serversInfra,
  startGateway,
  startUpstream,
  statusesOf,
  type TestUpstream,
} from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

// Path tricks and request smuggling, over raw sockets: a request meant for /public must
// never reach the admin upstream, and an ambiguous request must reach nobody. The admin
// route needs a token nobody here sends, so "reached admin" would show up as a hit on
// the admin upstream — counted there, not inferred from statuses.

const namespace = uniqueNamespace('gw-smuggle');
let etcd: Etcd3;
let infra: Infrastructure;
let publicSvc: TestUpstream;
let adminSvc: TestUpstream;
let gw: RunningGateway;
let publicHits = 0;

beforeAll(async () => {
  etcd = new Etcd3({ hosts: inject('etcdEndpoint') });
  infra = await serversInfra({ etcd: inject('etcdEndpoint'), amqp: inject('amqpUrl'), namespace });
  publicSvc = await startUpstream('public');
  adminSvc = await startUpstream('admin');
  await publicSvc.register(infra.registry, 'public-svc');
  await adminSvc.register(infra.registry, 'admin-svc');
  const routes = [
    {
      id: 'public',
      match: { path: '/public/*' },
      target: { type: 'http', service: 'public-svc' },
      auth: { mode: 'off' },
    },
    {
      id: 'admin',
      match: { path: '/admin/*' },
      target: { type: 'http', service: 'admin-svc' },
      auth: { mode: 'required', scopes: ['admin'] },
    },
  ];
  for (const r of routes) await etcd.put(routeKey(namespace, r.id)).value(JSON.stringify(r));
  gw = await startGateway({ infra, auth: { jwt: devJwtVerifierOptions() } });
  await eventually(async () => expect((await send(gw.url, '/public/ready')).status).toBe(200));
});

afterAll(async () => {
  await gw?.gateway.close();
  await publicSvc?.close();
  await adminSvc?.close();
  await infra?.close();
  await etcd?.delete().prefix(`/${namespace}/`);
  etcd?.close();
});

beforeEach(() => {
  publicHits = publicSvc.seen.length;
});

/** Nothing reached the admin upstream, and nothing admin-like reached the public one. */
function adminNeverReached(): void {
  expect(adminSvc.seen).toEqual([]);
  for (const r of publicSvc.seen) {
    expect(r.url.startsWith('/public/')).toBe(true);
    expect(r.url).not.toMatch(/(^|\/)\.\.?(\/|$)/);
  }
}

describe('path tricks', () => {
  // [path as sent, status, what the public upstream sees (when 200)]
  const cases: Array<[string, number, string?]> = [
    ['/public/../admin/secret', 401],
    ['/public/%2e%2e/admin/secret', 401],
    ['/public/%2E%2E/admin/secret', 401],
    ['/public/.%2e/admin/secret', 401],
    ['//admin/secret', 401],
    ['/public//..//admin/secret', 401],
    ['/public/./../admin/secret', 401],
    ['/public/..%2fadmin/secret', 400],
    ['/public/%2fadmin', 400],
    ['/public/%5c..%5cadmin', 400],
    ['/public/..;/admin/secret', 400],
    ['/public/%c0%ae%c0%ae/admin', 400],
    ['/public/%00/x', 400],
    ['/public/%252e%252e/admin/x', 200, '/public/%252e%252e/admin/x'],
    ['/public/a/./b/../c', 200, '/public/a/c'],
    ['/public/%61dmin', 200, '/public/admin'],
  ];
  for (const [path, status, upstreamSees] of cases) {
    it(`${path} -> ${status}`, async () => {
      const raw = await sendRaw(gw.port, `GET ${path} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`);
      expect(statusesOf(raw)).toEqual([status]);
      if (upstreamSees !== undefined) {
        expect(publicSvc.seen.length).toBe(publicHits + 1);
        expect(publicSvc.seen.at(-1)!.url).toBe(upstreamSees);
      } else {
        expect(publicSvc.seen.length).toBe(publicHits);
      }
      adminNeverReached();
    });
  }

  it('raw backslashes, absolute-form targets and raw non-ASCII are refused', async () => {
    for (const target of ['/public\\..\\admin\\secret', 'http://gw.test/admin/secret', '/public/caf\u00e9']) {
      const raw = await sendRaw(gw.port, `GET ${target} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`);
      expect(statusesOf(raw), target).toEqual([400]);
    }
    expect(publicSvc.seen.length).toBe(publicHits);
    adminNeverReached();
  });

  it('the admin route itself works with a token that has the scope (the control)', async () => {
    const token = await signDevToken({ sub: 'ops', scopes: ['admin'] });
    const r = await send(gw.url, '/admin/secret', { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(adminSvc.seen.length).toBe(1);
    adminSvc.seen.length = 0;
  });
});

describe('request smuggling', () => {
  const smuggled = 'GET /admin/secret HTTP/1.1\r\nHost: gw.test\r\n\r\n';
  const chunkedEnd = '0\r\n\r\n';
  const cases: Array<[string, string]> = [
    [
      'Content-Length and Transfer-Encoding',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: ${chunkedEnd.length + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n${chunkedEnd}${smuggled}`,
    ],
    [
      'Transfer-Encoding then Content-Length',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${chunkedEnd}${smuggled}`,
    ],
    [
      'duplicate Content-Length (different)',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    ],
    [
      'duplicate Content-Length (same)',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n${smuggled}`,
    ],
    ['Content-Length list', `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 0, 0\r\n\r\n${smuggled}`],
    ['Content-Length with a sign', `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: +0\r\n\r\n${smuggled}`],
    [
      'obs-fold Transfer-Encoding',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 0\r\n\r\n${chunkedEnd}${smuggled}`,
    ],
    ['obs-fold in another header', `GET /public/a HTTP/1.1\r\nHost: gw.test\r\nX-A: b\r\n c\r\n\r\n${smuggled}`],
    [
      'space before the colon',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding : chunked\r\nContent-Length: 0\r\n\r\n${chunkedEnd}${smuggled}`,
    ],
    [
      'Transfer-Encoding: identity, chunked',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: identity, chunked\r\n\r\n${chunkedEnd}${smuggled}`,
    ],
    [
      'Transfer-Encoding: chunked, identity',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n${chunkedEnd}${smuggled}`,
    ],
    [
      'Transfer-Encoding: xchunked',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: xchunked\r\n\r\n${chunkedEnd}${smuggled}`,
    ],
    [
      'duplicate Transfer-Encoding',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n${chunkedEnd}${smuggled}`,
    ],
    [
      'Transfer-Encoding in HTTP/1.0',
      `POST /public/a HTTP/1.0\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n${chunkedEnd}${smuggled}`,
    ],
    ['two Host headers', `GET /public/a HTTP/1.1\r\nHost: gw.test\r\nHost: admin.internal\r\n\r\n${smuggled}`],
    ['no Host header', `GET /public/a HTTP/1.1\r\n\r\n${smuggled}`],
    // llhttp takes a request line without a version for HTTP/0.9 and reads the next lines as headers.
    ['no HTTP version (HTTP/0.9)', `GET /public/a\r\nHost: gw.test\r\n\r\n${smuggled}`],
    ['bare LF line endings', `GET /public/a HTTP/1.1\nHost: gw.test\n\n${smuggled}`],
    [
      'bad chunk size',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n4x\r\nabcd\r\n0\r\n\r\n${smuggled}`,
    ],
    [
      'chunk size without CRLF',
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n4\nabcd\n0\n\n${smuggled}`,
    ],
  ];
  for (const [what, bytes] of cases) {
    it(`${what}: 400, the connection closed, nothing forwarded`, async () => {
      const raw = await sendRaw(gw.port, bytes);
      // One answer only: the smuggled request behind it is never read.
      expect(statusesOf(raw)).toEqual([400]);
      expect(raw).toMatch(/connection: close/i);
      expect(raw).toContain('"code":"INVALID_ARGUMENT"');
      expect(publicSvc.seen.length).toBe(publicHits);
      adminNeverReached();
    });
  }

  it('the controls: pipelined requests are all answered, and a body that looks like a request stays a body', async () => {
    const two = await sendRaw(
      gw.port,
      'GET /public/one HTTP/1.1\r\nHost: gw.test\r\n\r\nGET /public/two HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n',
    );
    expect(statusesOf(two)).toEqual([200, 200]);
    const body = await sendRaw(
      gw.port,
      `POST /public/a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: ${smuggled.length}\r\nConnection: close\r\n\r\n${smuggled}`,
    );
    expect(statusesOf(body)).toEqual([200]);
    expect(publicSvc.seen.at(-1)).toMatchObject({ method: 'POST', url: '/public/a', body: smuggled });
    const chunked = await sendRaw(
      gw.port,
      `POST /public/b HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
    );
    expect(statusesOf(chunked)).toEqual([200]);
    const seen = publicSvc.seen.at(-1)!;
    expect(seen).toMatchObject({ method: 'POST', url: '/public/b', body: smuggled });
    // Forwarded with a length of its own, never with the client's Transfer-Encoding.
    expect(seen.headers['transfer-encoding']).toBeUndefined();
    expect(seen.headers['content-length']).toBe(String(smuggled.length));
    adminNeverReached();
  });
});
