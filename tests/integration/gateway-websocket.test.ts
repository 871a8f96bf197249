import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { InvalidArgumentError, type Server } from '@switchyard/broker';
import { devJwtVerifierOptions, MemoryRouteSource, signDevToken } from '@switchyard/gateway';
import type { Infrastructure, Registration } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  eventually,
  postJson,
  type RunningGateway,
  send,
  serversInfra,
  sleep,
  startGateway,
} from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

// `stream: websocket` routes over the real RabbitMQ: a real `ws` client through the
// gateway to a bidi method served with transport.serve() (the registry record says
// kind: 'bidi'). Auth and rate limits refuse at the upgrade with HTTP statuses; items go
// one JSON text message each, in order; the close codes are docs/gateway.md's table; a
// client that stops reading holds the service back instead of filling the gateway.

const namespace = uniqueNamespace('gw-ws');
const MONEY = 'https://schemas.switchyard.dev/common/money.json';

let infra: Infrastructure;
let server: Server;
let registration: Registration;
let gw: RunningGateway;
let token: string;

/** What each echo stream saw, by the `tag` of its first item. */
const echoes = new Map<string, { received: number; inputEnded: boolean; aborted: boolean }>();
/** What each firehose stream produced, by tag. */
const hoses = new Map<string, { produced: number; closed: boolean; aborted: boolean }>();

const route = (id: string, method: string, extra: Record<string, unknown> = {}) => ({
  id,
  match: { path: `/ws/${id}` },
  target: { type: 'rpc', service: 'chatter', method, stream: 'websocket' },
  auth: { mode: 'off' },
  ...extra,
});

beforeAll(async () => {
  infra = await serversInfra({ etcd: inject('etcdEndpoint'), amqp: inject('amqpUrl'), namespace });
  server = await infra.transport.serve('chatter', {
    // Echoes every item until one says stop; an item with `bad` fails validation.
    echo: {
      bidi: 'bidi',
      validateRequest: (item) => {
        if ((item as { bad?: boolean }).bad) throw new InvalidArgumentError('bad is not allowed');
      },
      handler: async function* (req) {
        let seen: { received: number; inputEnded: boolean; aborted: boolean } | undefined;
        try {
          for await (const m of req.input!) {
            const item = m as { tag?: string; stop?: boolean };
            if (seen === undefined) {
              seen = { received: 0, inputEnded: false, aborted: false };
              echoes.set(item.tag ?? '', seen);
            }
            seen.received++;
            if (item.stop) return;
            yield { echo: m };
          }
          if (seen) seen.inputEnded = true;
        } finally {
          if (seen) seen.aborted = req.signal.aborted;
        }
      },
    },
    // After its first item ({ tag, bytes }), yields for as long as it is let.
    firehose: {
      bidi: 'bidi',
      handler: async function* (req) {
        const first = (await req.input!.next()).value as { tag: string; bytes: number };
        const seen = { produced: 0, closed: false, aborted: false };
        hoses.set(first.tag, seen);
        const pad = 'x'.repeat(first.bytes);
        try {
          for (let n = 0; n < 100_000; n++) {
            seen.produced++;
            yield { n, pad };
          }
        } finally {
          seen.closed = true;
          seen.aborted = req.signal.aborted;
        }
      },
    },
    // Reads its first item, then nothing: a client that goes on sending must be held back.
    sink: {
      bidi: 'bidi',
      handler: async function* (req) {
        const first = (await req.input!.next()).value as { tag: string };
        const seen = { produced: 0, closed: false, aborted: false };
        hoses.set(first.tag, seen);
        try {
          await new Promise((resolve) => req.signal.addEventListener('abort', resolve, { once: true }));
          yield { never: true };
        } finally {
          seen.closed = true;
          seen.aborted = req.signal.aborted;
        }
      },
    },
    ticks: {
      streaming: true,
      handler: async function* () {
        for (let n = 0; n < 3; n++) yield { n };
      },
    },
    balance: { handler: () => ({ amount: 1 }) },
  });
  registration = await infra.registry.register({
    service: 'chatter',
    version: '1.0.0',
    methods: {
      echo: { kind: 'bidi' },
      firehose: { kind: 'bidi' },
      sink: { kind: 'bidi' },
      ticks: { streaming: true },
      balance: {},
    },
  });
  const routes = new MemoryRouteSource([
    route('echo', 'echo', { maxBodyBytes: 1024 }),
    route('secure', 'echo', { auth: { mode: 'required', scopes: ['chat:use'] } }),
    route('limited', 'echo', { rateLimit: { points: 2, durationSeconds: 60, key: 'ip' } }),
    route('fire', 'firehose'),
    route('sink', 'sink'),
    route('sink-short', 'sink', { timeoutMs: 500 }),
    route('typed', 'echo', { requestSchema: MONEY }),
    route('unary', 'balance'),
    {
      id: 'ticks',
      match: { path: '/api/ticks', methods: ['POST'] },
      target: { type: 'rpc', service: 'chatter', method: 'ticks', stream: 'sse' },
      auth: { mode: 'off' },
    },
  ]);
  // Pings every 300 ms: a held-back connection whose client vanished is found by the next
  // write (the gateway reads nothing from it while it waits for credit, so no EOF arrives).
  gw = await startGateway({ infra, routes, auth: { jwt: devJwtVerifierOptions() }, streamKeepAliveMs: 300 });
  token = await signDevToken({ sub: 'alice', scopes: ['chat:use'] });
  await eventually(async () => {
    const ws = await open('/ws/echo');
    ws.close();
  });
}, 60_000);

afterAll(async () => {
  await gw?.gateway.close();
  await registration?.deregister();
  await server?.close();
  await infra?.close();
});

const wsUrl = (path: string) => `${gw.url.replace(/^http/, 'ws')}${path}`;

/** A client whose every message and close the test can read. */
interface Client {
  ws: WebSocket;
  messages: unknown[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a WebSocket; rejects with the refusal's status and JSON body when the upgrade is refused. */
function open(
  path: string,
  options: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(path), options.protocols ?? [], { headers: options.headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => reject(Object.assign(new Error(`refused ${res.statusCode}`), { res, text })));
    });
    ws.once('error', reject);
  });
}

async function client(path: string, options: { headers?: Record<string, string>; protocols?: string[] } = {}) {
  const ws = await open(path, options);
  const messages: unknown[] = [];
  ws.on('message', (data, isBinary) => messages.push(isBinary ? data : JSON.parse(String(data))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
  );
  return { ws, messages, closed } satisfies Client;
}

/** The refusal of an upgrade: its status, headers and JSON body. */
async function refusal(path: string, headers: Record<string, string> = {}) {
  const err = (await open(path, { headers }).then(
    (ws) => {
      ws.close();
      throw new Error('the upgrade was accepted');
    },
    (e: unknown) => e,
  )) as { res: IncomingMessage; text: string };
  return { status: err.res.statusCode, headers: err.res.headers, body: JSON.parse(err.text) };
}

describe('WebSocket streams (stream: websocket)', () => {
  it('echoes items in order, one JSON text message each, and closes 1000 when the service ends', async () => {
    const c = await client('/ws/echo');
    const items = Array.from({ length: 50 }, (_, n) => ({ tag: 'order', n }));
    for (const item of items) c.ws.send(JSON.stringify(item));
    c.ws.send(JSON.stringify({ tag: 'order', stop: true }));
    const end = await c.closed;
    expect(end.code).toBe(1000);
    expect(c.messages).toEqual(items.map((m) => ({ echo: m })));
  });

  it("a client's close half-closes the call: the service sees its input end", async () => {
    const c = await client('/ws/echo');
    c.ws.send(JSON.stringify({ tag: 'half', n: 0 }));
    c.ws.send(JSON.stringify({ tag: 'half', n: 1 }));
    await eventually(() => expect(c.messages).toHaveLength(2));
    c.ws.close(1000);
    await c.closed;
    await eventually(() => expect(echoes.get('half')).toEqual({ received: 2, inputEnded: true, aborted: false }));
  });

  it('refuses an unauthenticated upgrade with 401 and the JSON error body; a token in either place is accepted', async () => {
    const none = await refusal('/ws/secure');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer realm="switchyard"/);
    expect(none.body).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(none.body.requestId).toEqual(expect.any(String));

    const weak = await refusal('/ws/secure', {
      authorization: `Bearer ${await signDevToken({ sub: 'bob', scopes: ['other'] })}`,
    });
    expect(weak.status).toBe(403);
    expect(weak.body).toMatchObject({ code: 'PERMISSION_DENIED' });

    const header = await client('/ws/secure', { headers: { authorization: `Bearer ${token}` } });
    header.ws.send(JSON.stringify({ tag: 'auth-header', stop: true }));
    expect((await header.closed).code).toBe(1000);

    // The browser way: new WebSocket(url, ['bearer', token]); the handshake selects `bearer`.
    const browser = await client('/ws/secure', { protocols: ['bearer', token] });
    expect(browser.ws.protocol).toBe('bearer');
    browser.ws.send(JSON.stringify({ tag: 'auth-protocol', n: 1 }));
    browser.ws.send(JSON.stringify({ tag: 'auth-protocol', stop: true }));
    expect((await browser.closed).code).toBe(1000);
    expect(browser.messages).toEqual([{ echo: { tag: 'auth-protocol', n: 1 } }]);

    const both = await refusal('/ws/secure', {
      authorization: `Bearer ${token}`,
      'sec-websocket-protocol': `bearer, ${token}`,
    });
    expect(both.status).toBe(400);
    expect(both.body).toMatchObject({ details: { reason: 'multiple_credentials' } });
  });

  it("applies the route's rate limit at the upgrade: 429", async () => {
    for (let i = 0; i < 2; i++) (await open('/ws/limited')).close();
    const r = await refusal('/ws/limited');
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(r.headers['retry-after']).toEqual(expect.any(String));
  });

  it('a message over the size limit closes with 1009', async () => {
    const c = await client('/ws/echo');
    c.ws.send(JSON.stringify({ tag: 'big', pad: 'x'.repeat(2_000) }));
    expect((await c.closed).code).toBe(1009);
  });

  it('an item the service refuses: a last error message naming its seq, then close 4400', async () => {
    const c = await client('/ws/echo');
    c.ws.send(JSON.stringify({ tag: 'invalid', n: 0 }));
    c.ws.send(JSON.stringify({ tag: 'invalid', n: 1 }));
    // The server checks items as they arrive and fails the stream at once (protocol §9):
    // echoes still on their way would be dropped, so the bad item goes once they are here.
    await eventually(() => expect(c.messages).toHaveLength(2));
    c.ws.send(JSON.stringify({ tag: 'invalid', bad: true }));
    const end = await c.closed;
    expect(end).toEqual({ code: 4400, reason: 'INVALID_ARGUMENT' });
    expect(c.messages.slice(0, 2)).toEqual([{ echo: { tag: 'invalid', n: 0 } }, { echo: { tag: 'invalid', n: 1 } }]);
    expect(c.messages).toHaveLength(3);
    expect(c.messages[2]).toMatchObject({
      error: { code: 'INVALID_ARGUMENT', details: { seq: 2, direction: 'request' }, requestId: expect.any(String) },
    });
  });

  it('text that is not JSON closes 1007, a binary message 1003, each after an error message', async () => {
    const text = await client('/ws/echo');
    text.ws.send('{not json');
    expect((await text.closed).code).toBe(1007);
    expect(text.messages).toEqual([{ error: expect.objectContaining({ code: 'INVALID_ARGUMENT' }) }]);
    expect(text.messages[0]).toMatchObject({ error: { details: { reason: 'invalid_json', seq: 0 } } });

    const binary = await client('/ws/echo');
    binary.ws.send(Buffer.from([1, 2, 3]));
    expect((await binary.closed).code).toBe(1003);
    expect(binary.messages).toEqual([
      { error: expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { reason: 'binary_message', seq: 0 } }) },
    ]);
  });

  it('a plain request gets 426; a method the registry does not list as bidi is refused before the handshake', async () => {
    const plain = await send(gw.url, '/ws/echo');
    expect(plain.status).toBe(426);
    expect(plain.headers.upgrade).toBe('websocket');
    expect(plain.json()).toMatchObject({ code: 'FAILED_PRECONDITION', details: { reason: 'upgrade_required' } });

    const unary = await refusal('/ws/unary');
    expect(unary.status).toBe(501);
    expect(unary.body).toMatchObject({ code: 'UNIMPLEMENTED', details: { reason: 'not_bidi', kind: 'unary' } });
  });

  it('a client that stops reading holds the service back (credit), and one that drops cancels it', async () => {
    const c = await client('/ws/fire');
    const bytes = 64 * 1024;
    c.ws.send(JSON.stringify({ tag: 'slow', bytes }));
    // The client reads nothing more: TCP fills, then the gateway's high-water mark, then credit.
    (c.ws as unknown as { _socket: Socket })._socket.pause();
    const seen = await eventually(() => {
      const s = hoses.get('slow');
      if (s === undefined) throw new Error('the stream has not started yet');
      return s;
    });
    // Settled: the count stops moving once every buffer on the way is full.
    let last = -1;
    await eventually(async () => {
      const now = seen.produced;
      await sleep(200);
      expect(seen.produced).toBe(now);
      last = now;
    }, 20_000);
    // 100,000 items of 64 KiB would be 6 GiB. What may be in flight: the two credit windows
    // (16 each way through the broker), the gateway's high-water mark (256 KiB = 4 items)
    // and the loopback socket buffers (a few MiB, so some dozens of items).
    console.info(`slow reader: ${last} items of 64 KiB produced before the service was held back`);
    expect(last).toBeGreaterThan(16);
    expect(last).toBeLessThan(400);
    expect(seen.closed).toBe(false);
    c.ws.terminate();
    await eventually(() => expect(seen).toMatchObject({ closed: true, aborted: true }));
  });

  it('a client that sends faster than the service reads is held back in TCP, not buffered by the gateway', async () => {
    const c = await client('/ws/sink');
    c.ws.send(JSON.stringify({ tag: 'fast-writer' }));
    const seen = await eventually(() => {
      const s = hoses.get('fast-writer');
      if (s === undefined) throw new Error('the stream has not started yet');
      return s;
    });
    // 4,000 messages of 16 KiB: 64 MiB the service never reads.
    const message = JSON.stringify({ pad: 'y'.repeat(16 * 1024) });
    for (let i = 0; i < 4_000; i++) c.ws.send(message);
    const total = 4_000 * message.length;
    // Settled: the client's own send buffer stops shrinking once the gateway stopped reading.
    let left = -1;
    await eventually(async () => {
      const now = c.ws.bufferedAmount;
      await sleep(200);
      expect(c.ws.bufferedAmount).toBe(now);
      left = now;
    }, 20_000);
    // Taken off the client: the credit window (16 items), ws's one parsed read, and the
    // loopback socket buffers (a few MiB). The rest is still the client's.
    console.info(`fast writer: ${((total - left) / 2 ** 20).toFixed(1)} MiB of 64 MiB left the client`);
    expect(left).toBeGreaterThan(total / 2);
    expect(seen.closed).toBe(false);
    c.ws.terminate();
    await eventually(() => expect(seen).toMatchObject({ closed: true, aborted: true }));
  });

  it("the route's timeoutMs bounds the stream: a held-back client gets DEADLINE_EXCEEDED and close 4504", async () => {
    const c = await client('/ws/sink-short');
    c.ws.send(JSON.stringify({ tag: 'deadline' }));
    const message = JSON.stringify({ pad: 'z'.repeat(16 * 1024) });
    // Enough to leave the gateway's side paused (waiting for credit) when the deadline hits:
    // the close must still complete, so the gateway reads the socket again to hear it.
    for (let i = 0; i < 1_000; i++) c.ws.send(message);
    const end = await c.closed;
    expect(end).toEqual({ code: 4504, reason: 'DEADLINE_EXCEEDED' });
    expect(c.messages).toEqual([{ error: expect.objectContaining({ code: 'DEADLINE_EXCEEDED' }) }]);
    await eventually(() => expect(hoses.get('deadline')).toMatchObject({ closed: true, aborted: true }));
  }, 20_000);

  it("a route's requestSchema checks every client item at the gateway", async () => {
    const c = await client('/ws/typed');
    c.ws.send(JSON.stringify({ amount: 1, currency: 'EUR' }));
    await eventually(() => expect(c.messages).toHaveLength(1));
    c.ws.send(JSON.stringify({ amount: 'lots', currency: 'EUR' }));
    expect((await c.closed).code).toBe(4400);
    expect(c.messages).toEqual([
      { echo: { amount: 1, currency: 'EUR' } },
      {
        error: expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          details: expect.objectContaining({ seq: 1, direction: 'request', violations: expect.any(Array) }),
        }),
      },
    ]);
  });

  it('counts streams opened and closed by code', async () => {
    const text = await send(gw.adminUrl, '/metrics');
    expect(text.text).toMatch(/switchyard_gateway_websockets_opened_total\{route="echo"\} [1-9]/);
    expect(text.text).toMatch(/switchyard_gateway_websockets_closed_total\{route="echo",code="1000"\} [1-9]/);
    expect(text.text).toMatch(/switchyard_gateway_websockets_closed_total\{route="echo",code="4400"\} 1/);
    expect(text.text).toMatch(/switchyard_gateway_websockets_closed_total\{route="echo",code="1009"\} 1/);
  });

  it('stream: sse answers a server stream as SSE without Accept', async () => {
    const r = await postJson(gw.url, '/api/ticks', {});
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(r.text).toBe('data: {"n":0}\n\ndata: {"n":1}\n\ndata: {"n":2}\n\nevent: end\ndata: {}\n\n');
  });

  it("the gateway's shutdown cancels open streams and closes them with 1001", async () => {
    const other = await startGateway({
      infra,
      routes: new MemoryRouteSource([route('echo', 'echo')]),
      auth: { jwt: devJwtVerifierOptions() },
    });
    const c = await new Promise<Client>((resolve, reject) => {
      const ws = new WebSocket(`${other.url.replace(/^http/, 'ws')}/ws/echo`);
      const messages: unknown[] = [];
      ws.on('message', (data) => messages.push(JSON.parse(String(data))));
      const closed = new Promise<{ code: number; reason: string }>((r) =>
        ws.once('close', (code, reason) => r({ code, reason: reason.toString('utf8') })),
      );
      ws.once('open', () => resolve({ ws, messages, closed }));
      ws.once('error', reject);
    });
    c.ws.send(JSON.stringify({ tag: 'shutdown', n: 0 }));
    await eventually(() => expect(c.messages).toHaveLength(1));
    await other.gateway.close();
    expect(await c.closed).toEqual({ code: 1001, reason: 'UNAVAILABLE' });
    expect(c.messages[1]).toMatchObject({ error: { code: 'UNAVAILABLE', retryable: true } });
    await eventually(() => expect(echoes.get('shutdown')).toMatchObject({ inputEnded: false, aborted: true }));
  });
});
