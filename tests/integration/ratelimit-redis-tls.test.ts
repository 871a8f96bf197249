/**
 * The gateway's Redis rate-limit store over `rediss://`: a private redis-server of this
 * file's own (TLS port only, `--tls-auth-clients yes`), certificates from the development
 * CA made here. With a client certificate the counters live in Redis; without one Redis
 * refuses the handshake, start() neither fails nor hangs, and the failure mode decides.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, issueCert } from '@switchyard/auth';
import { RateLimiter, RedisRateLimitStore, type RedisTlsOptions, rateLimitStoreFromEnv } from '@switchyard/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../harness/ports.js';

let dir: string;
let port: number;
let redis: ChildProcess | undefined;
/** Set when this redis-server was built without TLS (Debian's has it): the tests skip, saying so. */
let noTls: string | undefined;
const limiters: RateLimiter[] = [];
const file = (name: string) => join(dir, name);
const pem = (name: string) => readFileSync(file(name), 'utf8');
const route = [{ id: 'orders', rateLimit: { points: 2, durationSeconds: 60, key: 'ip' as const } }];
const client = { ip: '198.51.100.7' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-redis-tls-'));
  await initCa({ dir });
  await issueCert({ caDir: dir, name: 'redis', dns: ['localhost'], ip: ['127.0.0.1'], server: true });
  await issueCert({ caDir: dir, name: 'gateway', client: true });
  port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--tls-cert-file',
      file('redis.crt'),
      '--tls-key-file',
      file('redis.key'),
      '--tls-ca-cert-file',
      file('ca.crt'),
      '--tls-auth-clients',
      'yes',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  redis = child;
  let out = '';
  const started = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      if (/tls/i.test(out) && /bad directive|not built|unsupported/i.test(out)) {
        noTls = `redis-server on this machine has no TLS support (${out.trim().split('\n').pop()})`;
        resolve();
      } else reject(new Error(`redis-server exited with ${code} while starting:\n${out}`));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', onExit);
  });
  await started;
}, 30_000);

afterAll(async () => {
  await Promise.all(limiters.map((l) => l.close()));
  if (redis && redis.exitCode === null) {
    const exited = once(redis, 'exit');
    redis.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

function limiter(tls: RedisTlsOptions, logs: string[] = []): RateLimiter {
  const store = new RedisRateLimitStore({
    url: `rediss://127.0.0.1:${port}`,
    tls,
    keyPrefix: 'sytest-tls',
    connectTimeoutMs: 1000,
    logger: { warn: (obj) => logs.push(String((obj as { err?: string }).err)) },
  });
  const l = new RateLimiter({ store, onStoreFailure: 'allow' });
  l.setRoutes(route);
  limiters.push(l);
  return l;
}

describe('rate limits in Redis over TLS', () => {
  it('with a client certificate, the counters are kept in Redis', async (ctx) => {
    if (noTls) ctx.skip(noTls);
    const l = limiter({ ca: pem('ca.crt'), cert: pem('gateway.crt'), key: pem('gateway.key') });
    await l.start();
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await l.check('orders', client));
    expect(results.map((r) => [r.allowed, r.decidedBy])).toEqual([
      [true, 'store'],
      [true, 'store'],
      [false, 'store'],
    ]);
  });

  it('from the environment: SWITCHYARD_REDIS=rediss://… with SWITCHYARD_REDIS_CA/CERT/KEY', async (ctx) => {
    if (noTls) ctx.skip(noTls);
    const store = rateLimitStoreFromEnv({
      SWITCHYARD_REDIS: `rediss://127.0.0.1:${port}`,
      SWITCHYARD_REDIS_CA: file('ca.crt'),
      SWITCHYARD_REDIS_CERT: file('gateway.crt'),
      SWITCHYARD_REDIS_KEY: file('gateway.key'),
    }) as RedisRateLimitStore;
    try {
      await store.start();
      expect(await store.client.ping()).toBe('PONG');
    } finally {
      await store.close();
    }
  });

  it('without a client certificate Redis refuses: start() neither fails nor hangs, the failure mode decides', async (ctx) => {
    if (noTls) ctx.skip(noTls);
    const logs: string[] = [];
    const l = limiter({ ca: pem('ca.crt') }, logs);
    await l.start();
    const r = await l.check('orders', client);
    expect([r.allowed, r.decidedBy]).toEqual([true, 'failure-mode']);
    expect(logs.length).toBeGreaterThan(0);
  });
});
