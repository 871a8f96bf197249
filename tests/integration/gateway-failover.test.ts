import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MemoryRouteSource } from '@switchyard/gateway';
import type { Infrastructure } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  eventually,
  type RunningGateway,
  send,
  serversInfra,
  sleep,
  startGateway,
} from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

// Three instances of a service, each its own process registered in etcd; one is killed
// (SIGKILL: no deregistration, connections reset) while the gateway is under steady load.
// Every GET must still succeed: the pool retries the idempotent requests the dead instance
// dropped, ejects it, and the registry forgets it when its lease runs out.

const FIXTURE = fileURLToPath(new URL('../fixtures/gateway-upstream-process.ts', import.meta.url));
const namespace = uniqueNamespace('gw-failover');
const children: ChildProcess[] = [];
let infra: Infrastructure;
let gw: RunningGateway;

function startInstance(name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', FIXTURE], {
    env: {
      ...process.env,
      SY_ETCD: inject('etcdEndpoint'),
      SY_NAMESPACE: namespace,
      SY_SERVICE: 'items',
      SY_NAME: name,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready`)), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('READY ')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', () => reject(new Error(`${name} exited`)));
  });
}

beforeAll(async () => {
  infra = await serversInfra({ etcd: inject('etcdEndpoint'), amqp: inject('amqpUrl'), namespace });
  await Promise.all(['a', 'b', 'c'].map(startInstance));
  gw = await startGateway({
    infra,
    routes: new MemoryRouteSource([
      {
        id: 'items',
        match: { path: '/items/*', methods: ['GET'] },
        target: { type: 'http', service: 'items' },
        auth: { mode: 'off' },
      },
    ]),
  });
  // All three instances known to the gateway before the load starts.
  await eventually(async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add((await send(gw.url, '/items/x')).json().instance);
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
  });
}, 60_000);

afterAll(async () => {
  await gw?.gateway.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await sleep(200);
  await infra?.close();
});

describe('failover under load', () => {
  it('one of three instances killed under steady load: no failed GET', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const url = new URL(gw.url);
    const byInstance = new Map<string, number>();
    const failures: string[] = [];
    let total = 0;
    let stop = false;
    let killedAt = 0;
    const afterKill = new Map<string, number>();
    const one = () =>
      new Promise<void>((resolve) => {
        const req = request({ agent, host: url.hostname, port: url.port, path: `/items/${total}` }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            total++;
            if (res.statusCode !== 200) failures.push(`${res.statusCode} ${Buffer.concat(chunks).toString()}`);
            else {
              const instance = JSON.parse(Buffer.concat(chunks).toString()).instance as string;
              byInstance.set(instance, (byInstance.get(instance) ?? 0) + 1);
              // Requests started well after the kill (and the retry) should avoid the dead instance.
              if (killedAt && performance.now() - killedAt > 1_000)
                afterKill.set(instance, (afterKill.get(instance) ?? 0) + 1);
            }
            resolve();
          });
        });
        req.on('error', (err) => {
          total++;
          failures.push(`client error ${err.message}`);
          resolve();
        });
        req.end();
      });
    const loops = Array.from({ length: 16 }, async () => {
      while (!stop) await one();
    });
    await sleep(1_500);
    console.log(`before the kill: ${JSON.stringify(Object.fromEntries(byInstance))} ${failures.length}`);
    children[0]!.kill('SIGKILL'); // instance "a"
    killedAt = performance.now();
    await sleep(3_500);
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    console.log(
      `failover: ${total} GETs, ${failures.length} failed; per instance ${JSON.stringify(Object.fromEntries(byInstance))}; from 1 s after the kill ${JSON.stringify(Object.fromEntries(afterKill))}`,
    );
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThan(500);
    expect(byInstance.get('a')).toBeGreaterThan(0);
    expect(afterKill.get('a') ?? 0).toBe(0);
    expect(afterKill.get('b')).toBeGreaterThan(0);
    expect(afterKill.get('c')).toBeGreaterThan(0);
  }, 30_000);
});
