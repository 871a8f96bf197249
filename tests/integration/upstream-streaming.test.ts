import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { UpstreamPool, type UpstreamPoolOptions } from '@switchyard/gateway';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addWebSocketEcho,
  eventually,
  httpRoute,
  registryWith,
  startFront,
  startUpstream,
  type TestUpstream,
  wsAccept,
  wsFrame,
  wsParse,
} from '../fixtures/upstream-servers.js';

// Long-lived responses through the pool: SSE streams and WebSocket pass-through.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(names: string[], options: Omit<UpstreamPoolOptions, 'view'> = {}) {
  const ups: TestUpstream[] = [];
  for (const n of names) ups.push(await startUpstream(n));
  const service = `stream-${Math.random().toString(36).slice(2, 8)}`;
  const { registry, view } = await registryWith(service, ups);
  const pool = new UpstreamPool({ view, ...options });
  await pool.start();
  const front = await startFront(pool, httpRoute(service));
  cleanups.push(async () => {
    await front.close();
    await pool.close();
    await registry.close();
    for (const u of ups) await u.close();
  });
  return { ups, pool, front, service };
}

describe('server-sent events', () => {
  it('relays each event as it is written, before the upstream ends the stream', async () => {
    const { ups, front } = await setup(['a']);
    // The upstream writes event n+1 only after the client has received event n: any buffering deadlocks.
    let received: (n: number) => void = () => {};
    ups[0]!.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let n = 0;
      const next = () => {
        n++;
        if (n > 5) {
          res.end();
          return;
        }
        res.write(`id: ${n}\ndata: event ${n}\n\n`);
      };
      received = (k) => {
        if (k === n) next();
      };
      next();
    };
    const arrivals: number[] = [];
    const t0 = performance.now();
    const events = await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('SSE events were held back (buffered)')), 5000);
      const req = request({ host: '127.0.0.1', port: front.port, path: '/events' }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        const got: string[] = [];
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          let end = text.indexOf('\n\n');
          while (end >= 0) {
            const event = text.slice(0, end);
            text = text.slice(end + 2);
            got.push(event);
            arrivals.push(performance.now() - t0);
            received(got.length);
            end = text.indexOf('\n\n');
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve(got);
        });
      });
      req.on('error', reject);
      req.end();
    });
    console.log(
      `SSE: 5 events, each relayed before the next was written (arrival ms: ${arrivals.map((t) => t.toFixed(1)).join(', ')})`,
    );
    expect(events).toEqual([1, 2, 3, 4, 5].map((n) => `id: ${n}\ndata: event ${n}`));
  });

  it('a client that goes away ends the upstream stream too (nothing left open)', async () => {
    const { ups, front, pool, service } = await setup(['a']);
    let upstreamClosed = false;
    ups[0]!.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: hello\n\n');
      const t = setInterval(() => res.write('data: tick\n\n'), 20);
      res.on('close', () => {
        clearInterval(t);
        upstreamClosed = true;
      });
    };
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: front.port, path: '/events' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.end();
    });
    await eventually(() => upstreamClosed, 3000, 'the upstream stream to close');
    await eventually(() => pool.inFlight === 0, 3000, 'the exchange to end');
    expect(pool.stats(service)[0]!.outstanding).toBe(0);
  });

  it('a stream silent for longer than responseIdleTimeoutMs is cut', async () => {
    const { ups, front } = await setup(['a'], { responseIdleTimeoutMs: 200 });
    let upstreamClosed = false;
    ups[0]!.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n'); // then nothing
      res.on('close', () => {
        upstreamClosed = true;
      });
    };
    const t0 = performance.now();
    const outcome = await new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port: front.port, path: '/events' }, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve('ended'));
        res.on('error', () => resolve('cut'));
      });
      req.on('error', () => resolve('cut'));
      req.end();
    });
    const elapsed = performance.now() - t0;
    expect(outcome).toBe('cut');
    expect(elapsed).toBeGreaterThanOrEqual(180);
    expect(elapsed).toBeLessThan(3000);
    await eventually(() => upstreamClosed, 3000, 'the upstream stream to close');
  });

  it('so is a fixed-length body that stalls', async () => {
    const { ups, front } = await setup(['a'], { responseIdleTimeoutMs: 200 });
    ups[0]!.handler = (_req, res) => {
      res.writeHead(200, { 'content-length': String(1 << 20) });
      res.write(Buffer.alloc(1000)); // then nothing
    };
    const outcome = await new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port: front.port, path: '/big' }, (res) => {
        res.resume();
        res.on('end', () => resolve('ended'));
        res.on('error', () => resolve('cut'));
      });
      req.on('error', () => resolve('cut'));
      req.end();
    });
    expect(outcome).toBe('cut');
  });
});

/** Opens a WebSocket through `port` with a raw socket; returns the handshake answer and the socket. */
function wsConnect(port: number, path = '/ws', extra = ''): Promise<{ head: string; socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const key = Buffer.from('0123456789abcdef').toString('base64');
    const socket = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error(`no handshake answer; got ${buf.toString()}`)), 5000);
    socket.on('data', function onData(d: Buffer) {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ head: buf.subarray(0, end).toString(), socket, rest: buf.subarray(end + 4) });
    });
    socket.on('end', () => {
      clearTimeout(timer);
      resolve({ head: buf.toString(), socket, rest: Buffer.alloc(0) });
    });
    socket.on('error', reject);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
  });
}

function nextTexts(socket: Socket, count: number, initial: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buf = initial;
    const texts: string[] = [];
    const timer = setTimeout(() => reject(new Error(`only got ${JSON.stringify(texts)}`)), 5000);
    const take = () => {
      const parsed = wsParse(buf);
      buf = parsed.rest;
      texts.push(...parsed.texts);
      if (texts.length >= count) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(texts);
      }
    };
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      take();
    };
    socket.on('data', onData);
    take();
  });
}

describe('WebSocket', () => {
  it('passes the upgrade through: handshake, frames both ways, forwarding headers', async () => {
    const { ups, front } = await setup(['a']);
    const echo = addWebSocketEcho(ups[0]!);
    const { head, socket, rest } = await wsConnect(front.port, '/ws/chat?room=1');
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    expect(head.toLowerCase()).toContain(
      `sec-websocket-accept: ${wsAccept(Buffer.from('0123456789abcdef').toString('base64')).toLowerCase()}`,
    );
    socket.write(wsFrame('hello', true));
    socket.write(wsFrame('again', true));
    expect(await nextTexts(socket, 2, rest)).toEqual(['a:hello', 'a:again']);
    const h = echo.upgrades[0]!;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-host']).toBe('chat.example.com');
    expect(h['x-request-id']).toMatch(/^ws-/);
    expect(h.upgrade).toBe('websocket');
    expect(h.connection).toBe('Upgrade');
    expect(ups[0]!.seen).toHaveLength(0); // not handled as a plain request
    socket.destroy();
  });

  it('an instance refusing connections: the JSON error, written on the raw socket', async () => {
    const { ups, front } = await setup(['a']);
    await ups[0]!.kill();
    const { head, rest, socket } = await wsConnect(front.port);
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head.toLowerCase()).toContain('content-type: application/json');
    let body = rest.toString();
    if (!body.endsWith('}'))
      body += await new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString())));
    expect(JSON.parse(body)).toMatchObject({
      code: 'UNAVAILABLE',
      details: { reason: 'connect' },
      requestId: expect.stringMatching(/^ws-/),
    });
  });

  it('an upstream that refuses the upgrade: its answer is relayed', async () => {
    const { ups, front } = await setup(['a']);
    ups[0]!.server.on('upgrade', (_req, socket: Socket) => {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno');
    });
    const { head } = await wsConnect(front.port);
    expect(head).toMatch(/^HTTP\/1\.1 403 /);
  });

  it('closing the pool cuts open WebSocket connections', async () => {
    const { ups, front, pool } = await setup(['a']);
    addWebSocketEcho(ups[0]!);
    const { head, socket } = await wsConnect(front.port);
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    await pool.close();
    await closed;
  });
});
