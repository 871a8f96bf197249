import { type IncomingMessage, request } from 'node:http';
import { NotFoundError } from '@switchyard/broker';
import { routeKey } from '@switchyard/gateway';
import { createService, type Infrastructure, type Service } from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
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

// RPC routes to server-streaming methods over the real RabbitMQ and etcd: the gateway
// sees `streaming: true` in the registry and answers NDJSON (default) or SSE (Accept),
// item by item; errors before the first item keep their HTTP status, errors after it
// come in-band with their code; a client that goes away or stops reading holds back or
// cancels the service's handler.

const namespace = uniqueNamespace('gw-stream');
const MONEY = 'https://schemas.switchyard.dev/common/money.json';
const money = (amount: number) => ({ amount, currency: 'EUR' });

let etcd: Etcd3;
let infra: Infrastructure;
let svc: Service;
let gw: RunningGateway;
/** What each `forever` stream did, by the request's `tag`. */
const forever = new Map<string, { produced: number; closed: boolean; aborted: boolean }>();

beforeAll(async () => {
  etcd = new Etcd3({ hosts: inject('etcdEndpoint') });
  infra = await serversInfra({ etcd: inject('etcdEndpoint'), amqp: inject('amqpUrl'), namespace });
  svc = createService({
    name: 'ledger',
    version: '1.0.0',
    infra,
    methods: { balance: () => money(1) },
    streams: {
      entries: {
        item: MONEY,
        handler: async function* (req: { count?: number; badAt?: number; failAt?: number }) {
          const count = req.count ?? 3;
          for (let n = 0; n < count; n++) {
            if (n === req.failAt) throw new NotFoundError(`entry ${n} is gone`);
            yield n === req.badAt ? { amount: 'lots' } : money(n);
          }
        },
      },
      forever: async function* (req: { tag: string; bytes?: number; everyMs?: number }, ctx) {
        const seen = { produced: 0, closed: false, aborted: false };
        forever.set(req.tag, seen);
        const pad = 'x'.repeat(req.bytes ?? 10);
        try {
          for (let n = 0; n < 100_000; n++) {
            seen.produced++;
            yield { n, pad };
            if (req.everyMs) await sleep(req.everyMs);
          }
        } finally {
          seen.closed = true;
          seen.aborted = ctx.signal.aborted;
        }
      },
    },
  });
  await svc.start();
  const rpc = (id: string, method: string, extra: Record<string, unknown> = {}) => ({
    id,
    match: { path: `/api/${id}`, methods: ['POST'] },
    target: { type: 'rpc', service: 'ledger', method },
    auth: { mode: 'off' },
    ...extra,
  });
  const routes = [
    rpc('entries', 'entries'),
    rpc('forever', 'forever'),
    rpc('short', 'forever', { timeoutMs: 400 }),
    rpc('balance', 'balance'),
  ];
  for (const r of routes) await etcd.put(routeKey(namespace, r.id)).value(JSON.stringify(r));
  gw = await startGateway({ infra });
  await eventually(async () => expect((await send(gw.url, '/api/balance', { method: 'POST' })).status).toBe(200));
}, 60_000);

afterAll(async () => {
  await gw?.gateway.close();
  await svc?.close();
  await infra?.close();
  await etcd?.delete().prefix(`/${namespace}/`);
  etcd?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  postJson(gw.url, path, body, headers);

const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));

/** SSE events as `{ event, data }` (event `message` when unnamed). */
function events(text: string): Array<{ event: string; data: unknown }> {
  return (
    text
      .split('\n\n')
      // Comment-only blocks (`: keep-alive`) are not events.
      .filter((b) => b.split('\n').some((l) => l !== '' && !l.startsWith(':')))
      .map((block) => {
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        return { event, data: JSON.parse(data) };
      })
  );
}

/** A streaming request whose response the test reads (or not) at its own pace. */
function open(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  base = gw.url,
): Promise<IncomingMessage> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: 'POST',
        path,
        agent: false,
        headers: { 'content-type': 'application/json', ...headers },
      },
      resolve,
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('RPC routes to streaming methods', () => {
  it('answers NDJSON by default, one item a line', async () => {
    const r = await post('/api/entries', { count: 4 });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(lines(r.text)).toEqual([money(0), money(1), money(2), money(3)]);
  });

  it('answers SSE when Accept asks for text/event-stream, ending with event: end', async () => {
    const r = await post('/api/entries', { count: 2 }, { accept: 'text/event-stream' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(events(r.text)).toEqual([
      { event: 'message', data: money(0) },
      { event: 'message', data: money(1) },
      { event: 'end', data: {} },
    ]);
  });

  it('an error after the first item is the last line / event, with its stable code', async () => {
    const nd = await post('/api/entries', { count: 5, badAt: 2 });
    expect(nd.status).toBe(200);
    const got = lines(nd.text);
    expect(got.slice(0, 2)).toEqual([money(0), money(1)]);
    expect(got).toHaveLength(3);
    expect(got[2].error).toMatchObject({ code: 'STREAM_ITEM_INVALID', retryable: false });
    expect(got[2].error.requestId).toBe(nd.headers['x-request-id']);

    const sse = await post('/api/entries', { count: 5, failAt: 1 }, { accept: 'text/event-stream' });
    expect(events(sse.text)).toEqual([
      { event: 'message', data: money(0) },
      { event: 'error', data: expect.objectContaining({ code: 'NOT_FOUND', message: 'entry 1 is gone' }) },
    ]);
  });

  it('an error before the first item keeps its HTTP status and JSON error body', async () => {
    const r = await post('/api/entries', { count: 5, failAt: 0 });
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('the route deadline bounds the whole stream', async () => {
    const r = await post('/api/short', { tag: 'deadline', everyMs: 50 });
    expect(r.status).toBe(200);
    const got = lines(r.text);
    expect(got.length).toBeGreaterThan(1);
    expect(got.at(-1).error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    // The service stopped too, at the same deadline.
    await eventually(() => expect(forever.get('deadline')).toMatchObject({ closed: true, aborted: true }));
  });

  it('a client that stops reading holds the handler back; one that goes away cancels it', async () => {
    const res = await open('/api/forever', { tag: 'slow-reader', bytes: 64 * 1024 });
    expect(res.statusCode).toBe(200);
    res.pause();
    // 100,000 items of 64 KiB would be 6 GiB: only the socket buffers and the credit window fill.
    const seen = await eventually(() => {
      const s = forever.get('slow-reader');
      if (s === undefined) throw new Error('the stream has not started yet');
      return s;
    });
    await sleep(500);
    expect(seen.produced).toBeLessThan(1_000);
    expect(seen.closed).toBe(false);
    res.destroy();
    await eventually(() => expect(seen.closed).toBe(true));
    expect(seen.aborted).toBe(true);
    await eventually(() => expect(svc.activeHandlers('forever')).toBe(0));
  });

  it('a quiet SSE stream gets `: keep-alive` comments (streamKeepAliveMs); NDJSON gets none', async () => {
    const quiet = await startGateway({ infra, streamKeepAliveMs: 100 });
    try {
      await eventually(async () =>
        expect((await send(quiet.url, '/api/balance', { method: 'POST' })).status).toBe(200),
      );
      /** What the stream sent until its third item (items 700 ms apart). */
      const read = async (tag: string, headers: Record<string, string>) => {
        const res = await open('/api/forever', { tag, everyMs: 700 }, headers, quiet.url);
        expect(res.statusCode).toBe(200);
        let text = '';
        await new Promise<void>((resolve) => {
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString('utf8');
            if ((text.match(/"n":/g) ?? []).length >= 3) resolve();
          });
        });
        res.destroy();
        await eventually(() => expect(forever.get(tag)?.closed).toBe(true));
        return text;
      };
      const sse = await read('quiet-sse', { accept: 'text/event-stream' });
      expect(sse).toMatch(/\n\n: keep-alive\n\n/);
      expect(events(sse).map((e) => e.data)).toEqual([0, 1, 2].map((n) => ({ n, pad: 'x'.repeat(10) })));
      const nd = await read('quiet-ndjson', {});
      expect(nd).not.toContain('keep-alive');
      expect(lines(nd).map((l) => l.n)).toEqual([0, 1, 2]);
    } finally {
      await quiet.gateway.close();
    }
  });
});
