import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { MemoryRouteSource } from '@switchyard/gateway';
import type { Infrastructure } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  send,
  serversInfra,
  sleep,
  startGateway,
  startUpstream,
  type TestUpstream,
} from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

// Graceful shutdown: close() stops accepting, lets requests in flight finish (bounded by
// shutdownTimeoutMs), closes idle keep-alive connections at once, and reports not-ready
// on the admin listener while it drains.

const namespace = uniqueNamespace('gw-shutdown');
let infra: Infrastructure;
let upstream: TestUpstream;

const routes = () =>
  new MemoryRouteSource([
    { id: 'svc', match: { path: '/svc/*' }, target: { type: 'http', service: 'svc' }, auth: { mode: 'off' } },
  ]);

beforeAll(async () => {
  infra = await serversInfra({ etcd: inject('etcdEndpoint'), amqp: inject('amqpUrl'), namespace });
  upstream = await startUpstream('svc');
  await upstream.register(infra.registry, 'svc');
  upstream.respond = (r) => (r.url.startsWith('/svc/slow') ? { delayMs: Number(r.url.split('/')[3] ?? 800) } : {});
}, 60_000);

afterAll(async () => {
  await upstream?.close();
  await infra?.close();
});

function get(url: string, path: string, agent: Agent): Promise<{ status: number; body: string; at: number }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, at: performance.now() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('graceful shutdown', () => {
  it('drains an in-flight request, refuses new connections, closes idle ones', async () => {
    const gw = await startGateway({ infra, routes: routes(), shutdownTimeoutMs: 5_000 });
    const busy = new Agent({ keepAlive: true, maxSockets: 1 });
    const idle = new Agent({ keepAlive: true, maxSockets: 1 });
    expect((await get(gw.url, '/svc/warm', idle)).status).toBe(200);
    const idleSocket = Object.values(idle.freeSockets).flat()[0]!;
    let idleClosedAt = 0;
    idleSocket.once('close', () => {
      idleClosedAt = performance.now();
    });

    const inFlight = get(gw.url, '/svc/slow/800', busy);
    await sleep(100);
    const closeStarted = performance.now();
    const closing = gw.gateway.close().then(() => performance.now());
    await sleep(50);
    expect(await refused(gw.port)).toBe(true);
    const ready = await send(gw.adminUrl, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json().checks.gateway).toEqual({ ready: false, phase: 'draining' });

    const answer = await inFlight;
    const closedAt = await closing;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ upstream: 'svc', url: '/svc/slow/800' });
    // close() waited for the request (about 700 ms still to go when it was called).
    expect(closedAt - closeStarted).toBeGreaterThanOrEqual(600);
    expect(idleClosedAt).toBeGreaterThan(0);
    expect(idleClosedAt - closeStarted).toBeLessThan(500);
    console.log(
      `shutdown: idle connection closed after ${(idleClosedAt - closeStarted).toFixed(0)} ms; in-flight answered ${(answer.at - closeStarted).toFixed(0)} ms after close(); close() done after ${(closedAt - closeStarted).toFixed(0)} ms`,
    );
    busy.destroy();
    idle.destroy();
  });

  it('cuts requests still running at shutdownTimeoutMs', async () => {
    const gw = await startGateway({ infra, routes: routes(), shutdownTimeoutMs: 300 });
    const agent = new Agent({ keepAlive: true });
    const stuck = get(gw.url, '/svc/slow/10000', agent).then(
      (r) => `answered ${r.status}`,
      (err: Error) => `cut: ${err.message}`,
    );
    await sleep(100);
    const t0 = performance.now();
    await gw.gateway.close();
    const took = performance.now() - t0;
    expect(await stuck).toMatch(/^cut: /);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(5_000);
    agent.destroy();
  });
});
