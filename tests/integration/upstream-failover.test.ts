import { Agent, request } from 'node:http';
import {
  ConsistentHashBalancer,
  GatewayMetrics,
  proxyTargetOf,
  UpstreamInstance,
  UpstreamPool,
  type UpstreamPoolOptions,
} from '@switchyard/gateway';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  httpRoute,
  registryWith,
  send,
  sleep,
  startFront,
  startUpstream,
  type TestUpstream,
} from '../fixtures/upstream-servers.js';

// Failures on the upstream leg, with real servers: retries, deadlines, ejection, circuit breaking.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  names: string[],
  options: Omit<UpstreamPoolOptions, 'view'> = {},
  route: Parameters<typeof httpRoute>[1] = {},
  extra: Parameters<typeof httpRoute>[2] = {},
) {
  const ups: TestUpstream[] = [];
  for (const n of names) ups.push(await startUpstream(n));
  const service = `svc-${Math.random().toString(36).slice(2, 8)}`;
  const { registry, view, registrations } = await registryWith(service, ups);
  const pool = new UpstreamPool({ view, ...options });
  await pool.start();
  const r = httpRoute(service, route, extra);
  const front = await startFront(pool, r);
  cleanups.push(async () => {
    await front.close();
    await pool.close();
    await registry.close();
    for (const u of ups) await u.close();
  });
  return { ups, pool, front, route: r, service, registry, registrations };
}

function json(body: string): Record<string, unknown> {
  return JSON.parse(body) as Record<string, unknown>;
}

describe('an instance dies under load', () => {
  it('one of three killed under steady GET load: no GET fails (retries on another instance, then ejection)', async () => {
    const { ups, front, pool, service } = await setup(['a', 'b', 'c']);
    const client = new Agent({ keepAlive: true, maxSockets: 16 });
    const statuses = new Map<number, number>();
    let errors = 0;
    let stop = false;
    const one = () =>
      new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port: front.port, path: '/load', agent: client }, (res) => {
          res.resume();
          res.on('end', () => {
            statuses.set(res.statusCode!, (statuses.get(res.statusCode!) ?? 0) + 1);
            resolve();
          });
        });
        req.on('error', () => {
          errors++;
          resolve();
        });
        req.end();
      });
    const workers = Array.from({ length: 16 }, async () => {
      while (!stop) await one();
    });
    await sleep(700);
    const before = ups.map((u) => u.requests);
    await ups[1]!.kill();
    const killedAt = ups[1]!.requests;
    await sleep(1300);
    stop = true;
    await Promise.all(workers);
    client.destroy();
    const total = [...statuses.values()].reduce((x, y) => x + y, 0);
    const stats = pool.stats(service);
    console.log(
      `kill one of three under load: ${total} GETs, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ` +
        `client errors ${errors}; served before the kill a/b/c = ${before.join('/')}, ` +
        `after = ${ups.map((u, i) => u.requests - before[i]!).join('/')}; ` +
        `b ejected: ${stats.find((s) => s.id === 'b')!.ejectedUntil > Date.now()}`,
    );
    expect(errors).toBe(0);
    expect([...statuses.keys()]).toEqual([200]);
    expect(total).toBeGreaterThan(200);
    expect(ups[1]!.requests).toBe(killedAt);
    expect(ups[0]!.requests - before[0]!).toBeGreaterThan(50);
    expect(ups[2]!.requests - before[2]!).toBeGreaterThan(50);
    expect(stats.find((s) => s.id === 'b')!.ejectedUntil).toBeGreaterThan(Date.now());
  });

  it('all instances refusing connections: 503 UNAVAILABLE as JSON after trying another one', async () => {
    const metrics = new GatewayMetrics();
    const { ups, front, route } = await setup(['a', 'b', 'c'], { metrics });
    metrics.setRoutes([route.id]);
    for (const u of ups) await u.kill();
    const r = await send(front.port, '/x');
    expect(r.status).toBe(503);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const body = json(r.body);
    expect(body).toMatchObject({
      code: 'UNAVAILABLE',
      retryable: true,
      requestId: expect.stringMatching(/^req-/),
      details: { reason: 'connect', attempts: 2 },
    });
    expect(String(body.message)).toMatch(/accepted the connection/);
    expect(r.body).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|at .*\.ts/);
    expect(await metrics.render()).toMatch(
      new RegExp(`switchyard_gateway_upstream_errors_total\\{route="${route.id}",reason="connect"\\} 2`),
    );
  });

  it('retries.attempts 0: no second try', async () => {
    const { ups, front } = await setup(['a', 'b'], {}, {}, { retries: { attempts: 0 } });
    await ups[0]!.kill();
    const r = await send(front.port, '/x');
    expect(r.status).toBe(503);
    expect(json(r.body)).toMatchObject({ details: { attempts: 1 } });
    expect(ups[1]!.requests).toBe(0);
  });

  it('no instance, or none with an HTTP address: 503 "no healthy instance"', async () => {
    const { front, registry, service, registrations } = await setup(['a']);
    await registrations.get('a')!.deregister();
    await registry.register({ service, version: '1', id: 'rpc-only' });
    await sleep(20);
    const r = await send(front.port, '/x');
    expect(r.status).toBe(503);
    expect(json(r.body)).toMatchObject({ code: 'UNAVAILABLE', message: `no healthy instance of ${service}` });
  });
});

describe('deadlines', () => {
  it('no answer within timeoutMs: 504 DEADLINE_EXCEEDED as JSON, not retried', async () => {
    const { ups, front } = await setup(['a', 'b'], {}, {}, { timeoutMs: 200 });
    for (const u of ups) u.handler = () => {}; // never answers
    const t0 = performance.now();
    const r = await send(front.port, '/slow');
    const elapsed = performance.now() - t0;
    expect(r.status).toBe(504);
    expect(json(r.body)).toMatchObject({ code: 'DEADLINE_EXCEEDED', details: { timeoutMs: 200 } });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(3000);
    expect(ups[0]!.requests + ups[1]!.requests).toBe(1);
  });

  it('the deadline bounds the wait for the headers only: a slow body still arrives', async () => {
    const { ups, front } = await setup(['a'], {}, {}, { timeoutMs: 200 });
    ups[0]!.handler = (_req, res) => {
      res.writeHead(200);
      res.write('part1 ');
      setTimeout(() => res.end('part2'), 400);
    };
    const r = await send(front.port, '/stream');
    expect(r.status).toBe(200);
    expect(r.body).toBe('part1 part2');
  });
});

describe('what is retried and what is not', () => {
  it('a streamed POST is retried when the connection was refused (its body was never read) and arrives whole', async () => {
    const { ups, front } = await setup(['a', 'b']);
    await ups[0]!.kill(); // round-robin starts with "a"
    ups[1]!.handler = (_req, res, body) => res.end(`b got ${body.length}`);
    const r = await send(front.port, '/orders', { method: 'POST', body: 'y'.repeat(300_000) });
    expect(r.status).toBe(200);
    expect(r.body).toBe('b got 300000');
  });

  it('a POST is not retried after a fresh connection was reset: 502, the other instance never sees it', async () => {
    const { ups, front } = await setup(['a', 'b']);
    ups[0]!.handler = (req) => req.socket.destroy();
    const r = await send(front.port, '/orders', { method: 'POST', body: '{}' });
    expect(r.status).toBe(502);
    expect(json(r.body)).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'reset', attempts: 1 } });
    expect(ups[1]!.requests).toBe(0);
  });

  it('a GET is retried after a reset', async () => {
    const { ups, front } = await setup(['a', 'b']);
    ups[0]!.handler = (req) => req.socket.destroy();
    const r = await send(front.port, '/orders');
    expect(r.status).toBe(200);
    expect(json(r.body)).toEqual({ upstream: 'b' });
  });

  it('a buffered POST is retried when a reused keep-alive connection is reset before any answer; a streamed one is not', async () => {
    // A key the hash ring (built from instance ids only) puts on "a".
    const ids = ['a', 'b'].map(
      (id) =>
        new UpstreamInstance(
          id,
          'http://127.0.0.1:1',
          proxyTargetOf('http://127.0.0.1:1')!,
          new Pool('http://127.0.0.1:1'),
          1,
        ),
    );
    const ring = new ConsistentHashBalancer();
    ring.update(ids);
    const keyOnA = Array.from({ length: 50 }, (_, k) => `u${k}`).find(
      (k) => ring.pick(ids, { avoid: [], hashKey: k, now: 0, usable: () => true }) === ids[0],
    )!;
    const { ups, front } = await setup(['a', 'b'], {}, { balancer: 'consistent-hash', hashHeader: 'x-user' });
    const served = new WeakMap<object, number>();
    ups[0]!.handler = (req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      // The second request on a connection: the instance drops it, as when its keep-alive timer fires.
      if (n >= 2) req.socket.destroy();
      else res.end('a');
    };
    ups[1]!.handler = (_req, res) => res.end('b');
    const headers = { 'x-user': keyOnA };
    front.bufferBody = true;
    const first = await send(front.port, '/pay', { method: 'POST', body: '1', headers });
    expect(first.body).toBe('a');
    const second = await send(front.port, '/pay', { method: 'POST', body: '2', headers });
    expect(second.status).toBe(200);
    expect(second.body).toBe('b');
    // Streamed: the body went out on the reused connection as soon as it was assigned; it cannot be sent again.
    front.bufferBody = false;
    expect((await send(front.port, '/pay', { method: 'POST', body: '3', headers })).body).toBe('a');
    const streamed = await send(front.port, '/pay', { method: 'POST', body: '4', headers });
    expect(streamed.status).toBe(502);
    expect(json(streamed.body)).toMatchObject({ details: { reason: 'stale', attempts: 1 } });
  });

  it('with more retries than instances, the tries alternate: never the same instance twice in a row', async () => {
    const { ups, front } = await setup(['a', 'b'], {}, {}, { retries: { attempts: 3 } });
    for (const u of ups) u.handler = (req) => req.socket.destroy();
    const r = await send(front.port, '/x');
    expect(r.status).toBe(502);
    expect(json(r.body)).toMatchObject({ details: { attempts: 4 } });
    expect(ups.map((u) => u.requests)).toEqual([2, 2]);
  });

  it('a 503 answer is retried for GET but relayed as is for POST', async () => {
    const { ups, front } = await setup(['a', 'b']);
    ups[0]!.handler = (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('busy');
    };
    const get = await send(front.port, '/x');
    expect(get.status).toBe(200);
    expect(json(get.body)).toEqual({ upstream: 'b' });
    const post = await send(front.port, '/x', { method: 'POST', body: 'p' });
    // round-robin: this one went to "a" again and its own answer comes back
    expect(post.status).toBe(503);
    expect(post.body).toBe('busy');
  });

  it('a buffered PUT is retried on a 502; a streamed one is not', async () => {
    const { ups, front } = await setup(['a', 'b']);
    ups[0]!.handler = (_req, res) => {
      res.writeHead(502);
      res.end('bad');
    };
    ups[1]!.handler = (_req, res, body) => res.end(`b:${body}`);
    front.bufferBody = true;
    const buffered = await send(front.port, '/x', { method: 'PUT', body: 'v1' });
    expect(buffered.body).toBe('b:v1');
    front.bufferBody = false;
    // round-robin went a, then b for the retry: this one goes to "a"
    const streamed = await send(front.port, '/x', { method: 'PUT', body: 'v2' });
    expect(streamed.status).toBe(502);
    expect(streamed.body).toBe('bad');
  });

  it('a response the upstream breaks off midway is cut for the client too (never completed silently)', async () => {
    const { ups, front } = await setup(['a']);
    ups[0]!.handler = (req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
      setTimeout(() => req.socket.destroy(), 50);
    };
    await expect(send(front.port, '/x')).rejects.toThrow(/aborted|socket hang up|ECONNRESET/);
  });
});

describe('passive health checks', () => {
  it('ejects an instance after consecutive failures, then probes it back once it recovers', async () => {
    const { ups, front, pool, service } = await setup(['a', 'b'], {
      health: { consecutiveFailures: 3, ejectMs: 300 },
      circuit: false,
    });
    let bBroken = true;
    ups[1]!.handler = (_req, res) => {
      if (bBroken) {
        res.writeHead(503);
        res.end();
      } else res.end('b ok');
    };
    for (let k = 0; k < 10; k++) expect((await send(front.port, '/x')).status).toBe(200);
    const ejected = pool.stats(service).find((s) => s.id === 'b')!;
    expect(ejected.ejectedUntil).toBeGreaterThan(Date.now());
    expect(ejected.ejections).toBe(1);
    const bSeen = ups[1]!.requests;
    expect(bSeen).toBe(3);
    for (let k = 0; k < 10; k++) await send(front.port, '/x');
    expect(ups[1]!.requests).toBe(bSeen); // out of rotation
    bBroken = false;
    await sleep(350);
    for (let k = 0; k < 10; k++) await send(front.port, '/x');
    const back = pool.stats(service).find((s) => s.id === 'b')!;
    console.log(
      `ejection: b saw ${bSeen} failing requests, was ejected, then got ${ups[1]!.requests - bSeen} of 10 after recovering`,
    );
    expect(back.ejectedUntil).toBe(0);
    expect(back.failures).toBe(0);
    expect(ups[1]!.requests - bSeen).toBeGreaterThanOrEqual(4);
  });
});

describe('circuit breaking', () => {
  it('opens after a run of failures: fast 503 CIRCUIT_OPEN with Retry-After, then closes after a good trial', async () => {
    const metrics = new GatewayMetrics();
    const { ups, front, route, service, pool } = await setup(
      ['a'],
      { metrics, circuit: { window: 4, minimumCalls: 4, halfOpenAfterMs: 300 } },
      {},
      { retries: { attempts: 0 } },
    );
    metrics.setRoutes([route.id]);
    let broken = true;
    ups[0]!.handler = (_req, res) => {
      res.writeHead(broken ? 503 : 200);
      res.end(broken ? 'down' : 'up');
    };
    for (let k = 0; k < 4; k++) expect((await send(front.port, '/x')).status).toBe(503);
    const seen = ups[0]!.requests;
    const fast = await send(front.port, '/x');
    expect(fast.status).toBe(503);
    expect(fast.headers['retry-after']).toBe('1');
    expect(json(fast.body)).toMatchObject({ code: 'CIRCUIT_OPEN', details: { service } });
    expect(ups[0]!.requests).toBe(seen);
    expect(pool.circuitState(service)).toBe('open');
    const gauge = `switchyard_gateway_circuit_state{route="${route.id}",target="${service}"}`;
    expect(await metrics.render()).toContain(`${gauge} 2`);
    broken = false;
    await sleep(350);
    expect((await send(front.port, '/x')).body).toBe('up');
    expect(pool.circuitState(service)).toBe('closed');
    expect(await metrics.render()).toContain(`${gauge} 0`);
  });
});

describe('closing', () => {
  it('lets requests in flight finish, answers new ones 503 CLOSED', async () => {
    const { ups, front, pool } = await setup(['a']);
    ups[0]!.handler = (_req, res) => setTimeout(() => res.end('late but whole'), 200);
    const inFlight = send(front.port, '/x');
    await sleep(50);
    const closed = pool.close();
    const after = await send(front.port, '/y');
    expect(after.status).toBe(503);
    expect(json(after.body)).toMatchObject({ code: 'CLOSED' });
    expect((await inFlight).body).toBe('late but whole');
    await closed;
    expect(pool.inFlight).toBe(0);
  });
});
