import { Agent, request } from 'node:http';
import { routeKey } from '@switchyard/gateway';
import type { Infrastructure } from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  eventually,
  type RunningGateway,
  send,
  serversInfra,
  startGateway,
  startUpstream,
  type TestUpstream,
} from '../fixtures/gateway-harness.js';
import { PrivateEtcd } from '../harness/etcd.js';
import { uniqueNamespace } from '../harness/servers.js';

// Routes live in etcd: a route written there is served within milliseconds (measured and
// printed); when etcd goes away the gateway keeps serving its last table and instance
// list, /readyz says what is missing, and everything resyncs once etcd is back. This
// file runs its own etcd so it can stop it.

const namespace = uniqueNamespace('gw-etcd');
let etcd: PrivateEtcd;
let client: Etcd3;
let infra: Infrastructure;
let upstream: TestUpstream;
let gw: RunningGateway;
/** The same, with the strict readiness check (`readyWhileDegraded: false`). */
let strict: RunningGateway;

const route = (id: string, path: string) => ({
  id,
  match: { path, methods: ['GET'] },
  target: { type: 'http', service: 'catalog' },
  auth: { mode: 'off' },
});
// etcd3's builders are lazy: nothing is sent until exec() (or await).
const put = (r: { id: string }) => client.put(routeKey(namespace, r.id)).value(JSON.stringify(r)).exec();

beforeAll(async () => {
  etcd = await PrivateEtcd.start();
  client = new Etcd3({ hosts: etcd.endpoint });
  infra = await serversInfra({ etcd: etcd.endpoint, amqp: inject('amqpUrl'), namespace });
  upstream = await startUpstream('catalog');
  await upstream.register(infra.registry, 'catalog');
  await put(route('first', '/first'));
  gw = await startGateway({ infra });
  strict = await startGateway({ infra, readyWhileDegraded: false });
  await eventually(async () => expect((await send(gw.url, '/first')).status).toBe(200));
  await eventually(async () => expect((await send(strict.url, '/readyz')).status).toBe(200));
}, 60_000);

afterAll(async () => {
  await gw?.gateway.close();
  await strict?.gateway.close();
  await upstream?.close();
  await infra?.close();
  client?.close();
  await etcd?.close();
});

describe('routes from etcd', () => {
  it('a route written to etcd is served at once (delay measured from the put)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const url = new URL(gw.url);
    const status = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ agent, host: url.hostname, port: url.port, path }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      const path = `/fresh-${i}`;
      expect(await status(path)).toBe(404);
      const t0 = performance.now();
      const written = put(route(`fresh-${i}`, path));
      while ((await status(path)) !== 200) {
        if (performance.now() - t0 > 5_000) throw new Error(`${path} not served 5 s after the put`);
      }
      delays.push(performance.now() - t0);
      await written;
    }
    agent.destroy();
    delays.sort((a, b) => a - b);
    console.log(
      `etcd put -> route served through the gateway: p50 ${delays[5]!.toFixed(1)} ms, max ${delays[9]!.toFixed(1)} ms (10 routes)`,
    );
    expect(delays[9]).toBeLessThan(2_000);
  });

  it('a deleted route is gone, and a bad route never disturbs the others', async () => {
    await client.delete().key(routeKey(namespace, 'fresh-0'));
    await eventually(async () => expect((await send(gw.url, '/fresh-0')).status).toBe(404));
    await client.put(routeKey(namespace, 'broken')).value('{"id":"broken","match":{}}');
    await put(route('after-broken', '/after-broken'));
    await eventually(async () => expect((await send(gw.url, '/after-broken')).status).toBe(200));
    expect((await send(gw.url, '/first')).status).toBe(200);
    const doc = (await send(gw.adminUrl, '/_switchyard/routes')).json();
    expect(doc.rejected.map((r: { id: string }) => r.id)).toEqual(['broken']);
  });

  it('etcd stopped: the last table keeps serving, /readyz stays 200 but degraded (503 when strict); back: resynced', async () => {
    expect((await send(gw.url, '/readyz')).json()).toMatchObject({ ready: true, degraded: false });
    const hits = upstream.seen.length;
    await etcd.stop();
    try {
      const ready = await eventually(async () => {
        const r = await send(gw.url, '/readyz');
        const body = r.json();
        expect(body.checks.routes.ready).toBe(false);
        expect(body.checks.registry.ready).toBe(false);
        // Every gateway shares etcd: a 503 here would take them all out of the balancer at once.
        expect(r.status).toBe(200);
        return body;
      }, 20_000);
      expect(ready).toMatchObject({
        ready: true,
        degraded: true,
        checks: { transport: { ready: true }, gateway: { ready: true } },
      });
      const strictReady = await eventually(async () => {
        const r = await send(strict.url, '/readyz');
        expect(r.status).toBe(503);
        return r.json();
      }, 20_000);
      expect(strictReady).toMatchObject({ ready: false, degraded: true, checks: { routes: { ready: false } } });
      // Routes and instances from before the outage still serve.
      for (const path of ['/first', '/after-broken', '/fresh-3']) expect((await send(gw.url, path)).status).toBe(200);
      expect(upstream.seen.length).toBe(hits + 3);
      expect((await send(gw.adminUrl, '/readyz')).status).toBe(200);
    } finally {
      await etcd.resume();
    }
    await eventually(async () => expect((await send(strict.url, '/readyz')).status).toBe(200), 20_000);
    await eventually(
      async () => expect((await send(gw.url, '/readyz')).json()).toMatchObject({ ready: true, degraded: false }),
      20_000,
    );
    // Changes made after the outage are picked up: the source re-listed and watches again.
    await put(route('after-outage', '/after-outage'));
    await eventually(async () => expect((await send(gw.url, '/after-outage')).status).toBe(200));
    expect((await send(gw.url, '/first')).status).toBe(200);
  }, 60_000);
});
