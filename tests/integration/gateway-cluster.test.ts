import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { routeKey } from '@switchyard/gateway';
import { EtcdRegistry } from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, send, sleep, startUpstream, type TestUpstream } from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

// `workers: 2`: one port served by two gateway processes (node cluster). Without Redis the
// workers share their rate-limit counters through the primary, so a limit holds for the
// machine, not per process; the primary's admin listener aggregates both workers'
// metrics; SIGTERM to the primary shuts everything down.

const FIXTURE = fileURLToPath(new URL('../fixtures/gateway-cluster.ts', import.meta.url));
const namespace = uniqueNamespace('gw-cluster');
let etcd: Etcd3;
let registry: EtcdRegistry;
let upstream: TestUpstream;
let primary: ChildProcess;
let url: string;
let adminUrl: string;

beforeAll(async () => {
  etcd = new Etcd3({ hosts: inject('etcdEndpoint') });
  registry = new EtcdRegistry({ endpoints: inject('etcdEndpoint'), namespace, ttlSeconds: 2 });
  await registry.start();
  upstream = await startUpstream('svc');
  await upstream.register(registry, 'svc');
  await etcd.put(routeKey(namespace, 'limited')).value(
    JSON.stringify({
      id: 'limited',
      match: { path: '/limited/*', methods: ['GET'] },
      target: { type: 'http', service: 'svc' },
      auth: { mode: 'off' },
      rateLimit: { points: 10, durationSeconds: 60, key: 'ip' },
    }),
  );
  primary = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', FIXTURE], {
    env: {
      ...process.env,
      SWITCHYARD_ETCD: inject('etcdEndpoint'),
      SWITCHYARD_AMQP: inject('amqpUrl'),
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_SCHEMAS: 'none',
      SWITCHYARD_LOG_LEVEL: 'warn',
      SWITCHYARD_REDIS: '',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  [url, adminUrl] = await new Promise<[string, string]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('cluster not ready')), 40_000);
    createInterface({ input: primary.stdout! }).on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(timer);
      const [gatewayUrl = '', adminAddress = ''] = line.slice(6).split(' ');
      resolve([gatewayUrl, adminAddress]);
    });
    primary.once('exit', (code) => reject(new Error(`cluster primary exited with ${code}`)));
  });
  await eventually(async () => expect((await send(url!, '/readyz')).status).toBe(200));
}, 60_000);

afterAll(async () => {
  if (primary && primary.exitCode === null) primary.kill('SIGKILL');
  await upstream?.close();
  await registry?.close();
  await etcd?.delete().prefix(`/${namespace}/`);
  etcd?.close();
});

describe('gateway workers (node cluster)', () => {
  let workers: string[] = [];

  it('two workers serve one port and share one rate limit through the primary', async () => {
    const statuses: number[] = [];
    // A new connection per request: the cluster spreads connections over the workers.
    for (let i = 0; i < 20; i++) statuses.push((await send(url, `/limited/${i}`)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.slice(10)).toEqual(Array(10).fill(429));

    const metrics = (await send(adminUrl, '/metrics')).text;
    const served = [
      ...metrics.matchAll(
        /switchyard_gateway_requests_total\{route="limited",method="GET",status="(\d+)",worker="(\d+)"\} (\d+)/g,
      ),
    ];
    workers = [...new Set(served.map((m) => m[2]!))];
    const byWorker = Object.fromEntries(
      workers.map((w) => [w, served.filter((m) => m[2] === w).reduce((n, m) => n + Number(m[3]), 0)]),
    );
    console.log(`cluster: requests per worker ${JSON.stringify(byWorker)}; statuses ${statuses.join(' ')}`);
    expect(workers).toHaveLength(2);
    expect(Object.values(byWorker).reduce((a, b) => a + b, 0)).toBe(20);
    // Both workers refused some: the counter they check is the shared one.
    const refusing = served.filter((m) => m[1] === '429').map((m) => m[2]);
    expect(new Set(refusing).size).toBe(2);
  });

  it('SIGTERM to the primary closes the workers and exits cleanly', async () => {
    const exited = new Promise<number | null>((resolve) => primary.once('exit', (code) => resolve(code)));
    primary.kill('SIGTERM');
    expect(await exited).toBe(0);
    await sleep(200);
    for (const pid of workers) expect(() => process.kill(Number(pid), 0)).toThrow();
  });
});
