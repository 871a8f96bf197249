import { Agent } from 'node:http';
import { GatewayMetrics, UpstreamPool } from '@switchyard/gateway';
import { afterEach, describe, expect, it } from 'vitest';
import {
  eventually,
  httpRoute,
  registryWith,
  send,
  startFront,
  startUpstream,
  type TestUpstream,
} from '../fixtures/upstream-servers.js';

// Each balancer through real instances on 127.0.0.1, and the pool following registry changes.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(names: string[], target: Parameters<typeof httpRoute>[1] = {}, metrics?: GatewayMetrics) {
  const ups: TestUpstream[] = [];
  for (const n of names) ups.push(await startUpstream(n));
  const service = `bal-${Math.random().toString(36).slice(2, 8)}`;
  const { registry, view, registrations } = await registryWith(service, ups);
  const pool = new UpstreamPool({ view, ...(metrics ? { metrics } : {}) });
  await pool.start();
  const front = await startFront(pool, httpRoute(service, target));
  cleanups.push(async () => {
    await front.close();
    await pool.close();
    await registry.close();
    for (const u of ups) await u.close();
  });
  return { ups, pool, front, service, registry, registrations };
}

function delay(u: TestUpstream, ms: number): void {
  u.handler = (_req, res) => setTimeout(() => res.end(u.name), ms);
}

/** `total` GETs at `concurrency`, through a keep-alive client. */
async function load(port: number, total: number, concurrency: number, headers?: (k: number) => Record<string, string>) {
  const client = new Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  const bodies: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const k = next++;
        const r = await send(port, `/k/${k}`, { agent: client, ...(headers ? { headers: headers(k) } : {}) });
        expect(r.status).toBe(200);
        bodies.push(r.body);
      }
    }),
  );
  client.destroy();
  return bodies;
}

describe('balancers through real instances', () => {
  it('round-robin: every instance in turn', async () => {
    const { ups, front } = await setup(['a', 'b', 'c']);
    await load(front.port, 300, 1);
    const counts = ups.map((u) => u.requests);
    console.log(`round-robin over 3 instances, 300 GETs: ${counts.join(' / ')}`);
    expect(counts).toEqual([100, 100, 100]);
  });

  it('least-outstanding: a slow instance, holding its requests longer, gets fewer', async () => {
    const { ups, front } = await setup(['a', 'b', 'c'], { balancer: 'least-outstanding' });
    delay(ups[0]!, 2);
    delay(ups[1]!, 2);
    delay(ups[2]!, 40);
    await load(front.port, 600, 12);
    const counts = ups.map((u) => u.requests);
    console.log(`least-outstanding, c 20x slower, 600 GETs at concurrency 12: ${counts.join(' / ')}`);
    expect(counts[2]).toBeLessThan(Math.min(counts[0]!, counts[1]!) / 2);
  });

  it('p2c-latency: a slow instance gets (almost) nothing once measured', async () => {
    const { ups, front, pool, service } = await setup(['a', 'b', 'c'], { balancer: 'p2c-latency' });
    delay(ups[0]!, 1);
    delay(ups[1]!, 1);
    delay(ups[2]!, 30);
    await load(front.port, 600, 4);
    const counts = ups.map((u) => u.requests);
    const latency = pool.stats(service).map((s) => s.ewmaLatencyMs.toFixed(1));
    console.log(
      `p2c-latency, c 30x slower, 600 GETs at concurrency 4: ${counts.join(' / ')}; EWMA ms ${latency.join(' / ')}`,
    );
    expect(counts[2]).toBeLessThan(600 * 0.1);
    expect(Math.min(counts[0]!, counts[1]!)).toBeGreaterThan(150);
  });

  it('consistent-hash: a user always lands on the same instance; without the header, round-robin', async () => {
    const { ups, front } = await setup(['a', 'b', 'c'], { balancer: 'consistent-hash', hashHeader: 'x-user-id' });
    const byUser = new Map<string, Set<string>>();
    const bodies = await load(front.port, 300, 6, (k) => ({ 'x-user-id': `user-${k % 30}` }));
    expect(bodies).toHaveLength(300);
    for (let k = 0; k < 30; k++) {
      const r = await send(front.port, '/again', { headers: { 'x-user-id': `user-${k}` } });
      const seen = byUser.get(`user-${k}`) ?? new Set();
      seen.add(JSON.parse(r.body).upstream);
      byUser.set(`user-${k}`, seen);
    }
    for (let k = 0; k < 30; k++) {
      const r = await send(front.port, '/again', { headers: { 'x-user-id': `user-${k}` } });
      byUser.get(`user-${k}`)!.add(JSON.parse(r.body).upstream);
    }
    expect([...byUser.values()].every((s) => s.size === 1)).toBe(true);
    const used = new Set([...byUser.values()].flatMap((s) => [...s]));
    expect(used.size).toBe(3);
    const before = ups.map((u) => u.requests);
    await load(front.port, 30, 1);
    expect(ups.map((u, i) => u.requests - before[i]!)).toEqual([10, 10, 10]);
  });
});

describe('following the registry', () => {
  it('an instance that deregisters stops getting traffic; a new one gets its share; no request fails', async () => {
    const metrics = new GatewayMetrics();
    const { ups, front, pool, service, registry, registrations } = await setup(['a', 'b'], {}, metrics);
    await load(front.port, 20, 2);
    await registrations.get('a')!.deregister();
    await eventually(() => pool.stats(service).length === 1, 3000, 'the view to drop "a"');
    const aBefore = ups[0]!.requests;
    await load(front.port, 20, 2);
    expect(ups[0]!.requests).toBe(aBefore);
    const c = await startUpstream('c');
    cleanups.push(() => c.close());
    await registry.register({ service, version: '1', id: 'c', address: { http: c.url } });
    await eventually(() => pool.stats(service).length === 2, 3000, 'the view to add "c"');
    await load(front.port, 20, 1);
    expect(c.requests).toBe(10);
    expect(await metrics.render()).toContain(`switchyard_gateway_instances{service="${service}"} 2`);
  });

  it('consistent-hash: when an instance leaves, users on the others stay where they were', async () => {
    const { front, pool, service, registrations } = await setup(['a', 'b', 'c'], {
      balancer: 'consistent-hash',
      hashHeader: 'x-user-id',
    });
    const where = async () => {
      const m = new Map<string, string>();
      for (let k = 0; k < 60; k++) {
        const r = await send(front.port, '/w', { headers: { 'x-user-id': `user-${k}` } });
        m.set(`user-${k}`, JSON.parse(r.body).upstream);
      }
      return m;
    };
    const before = await where();
    await registrations.get('b')!.deregister();
    await eventually(() => pool.stats(service).length === 2, 3000, 'the view to drop "b"');
    const after = await where();
    let moved = 0;
    for (const [user, inst] of before) {
      if (inst === 'b') moved++;
      else expect(after.get(user)).toBe(inst);
    }
    console.log(`consistent-hash through the pool: "b" left, ${moved} of 60 users moved (only b's)`);
    expect([...after.values()].includes('b')).toBe(false);
  });
});
