import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { signDevToken } from '@switchyard/gateway';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../fixtures/gateway-harness.js';
import { freePort } from '../harness/ports.js';

// The two programs: gateway/src/main.ts (the gateway alone, from the environment) and the
// demo behind `npm start` (examples/demo/start.ts), each run as a real process: they
// come up, answer, and stop cleanly on a signal.

const root = fileURLToPath(new URL('../..', import.meta.url));
const running: ChildProcess[] = [];

afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(script: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script], {
    cwd: root,
    env: { ...process.env, SWITCHYARD_ETCD: '', SWITCHYARD_AMQP: '', SWITCHYARD_REDIS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  const lines: string[] = [];
  const waiters: Array<{ test: (l: string) => boolean; resolve: (l: string) => void }> = [];
  const onLine = (line: string) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor(test: (l: string) => boolean, timeoutMs = 30_000): Promise<string> {
      const seen = lines.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`not seen within ${timeoutMs} ms:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        waiters.push({
          test,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

describe('gateway/src/main.ts', () => {
  it('starts from the environment, serves, and drains on SIGTERM', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const p = start('gateway/src/main.ts', {
      SWITCHYARD_GATEWAY_PORT: String(port),
      SWITCHYARD_ADMIN_PORT: String(adminPort),
      SWITCHYARD_GATEWAY_HOST: '127.0.0.1',
      SWITCHYARD_ROUTES_FILE: 'examples/routes.yaml',
      SWITCHYARD_DEV_JWT_SECRET: 'main-test-secret-that-is-long-enough!!',
    });
    await p.waitFor((l) => l.includes('gateway: listening'));
    const base = `http://127.0.0.1:${port}`;
    expect((await send(base, '/healthz')).json()).toEqual({ status: 'ok' });
    // No orders instance runs in this process: the route exists, its service does not.
    const token = await signDevToken({
      sub: 'ops',
      scopes: ['orders:read'],
      env: { SWITCHYARD_DEV_JWT_SECRET: 'main-test-secret-that-is-long-enough!!' },
    });
    const r = await send(base, '/api/orders/1', { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(503);
    expect((await send(base, '/api/orders/1')).status).toBe(401);
    const routes = (await send(`http://127.0.0.1:${adminPort}`, '/_switchyard/routes')).json();
    expect(routes.routes.map((x: { id: string }) => x.id)).toContain('payments-charge');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.lines.some((l) => l.includes('gateway: closed'))).toBe(true);
  });

  it('verifies bearer tokens against a static public key given by SWITCHYARD_JWT_PUBLIC_KEY (a file)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const dir = mkdtempSync(join(tmpdir(), 'sy-main-key-'));
    const keyFile = join(dir, 'idp-public.pem');
    writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const port = await freePort();
    const p = start('gateway/src/main.ts', {
      SWITCHYARD_GATEWAY_PORT: String(port),
      SWITCHYARD_ADMIN_PORT: 'off',
      SWITCHYARD_GATEWAY_HOST: '127.0.0.1',
      SWITCHYARD_ROUTES_FILE: 'examples/routes.yaml',
      SWITCHYARD_DEV_JWT_SECRET: '',
      SWITCHYARD_JWT_PUBLIC_KEY: keyFile,
      SWITCHYARD_JWT_ISSUER: 'https://idp.test/',
    });
    await p.waitFor((l) => l.includes('gateway: listening'));
    const base = `http://127.0.0.1:${port}`;
    const sign = (key: KeyObject) =>
      new SignJWT({ scope: 'orders:read' })
        .setProtectedHeader({ alg: 'ES256' })
        .setSubject('ops')
        .setIssuer('https://idp.test/')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(key);
    // Verified: the route is passed (its service has no instance in this process: 503).
    const ok = await send(base, '/api/orders/1', { headers: { authorization: `Bearer ${await sign(privateKey)}` } });
    expect(ok.status).toBe(503);
    const forged = await send(base, '/api/orders/1', { headers: { authorization: `Bearer ${await sign(other)}` } });
    expect(forged.status).toBe(401);
    expect(forged.json().details.reason).toBe('bad_signature');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('stops at once with one line naming a bad setting', async () => {
    const p = start('gateway/src/main.ts', { SWITCHYARD_GATEWAY_PORT: 'eighty' });
    expect(await p.exited).toBe(2);
    expect(p.lines.join('\n')).toMatch(/^switchyard gateway: .*SWITCHYARD_GATEWAY_PORT.*$/m);
  });
});

describe('npm start (examples/demo/start.ts)', () => {
  it('runs the demo: the printed requests work, Ctrl-C stops everything', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const p = start('examples/demo/start.ts', {
      SWITCHYARD_GATEWAY_PORT: String(port),
      SWITCHYARD_ADMIN_PORT: String(adminPort),
      SWITCHYARD_LOG_LEVEL: 'warn',
      SWITCHYARD_DEV_JWT_SECRET: '',
      SWITCHYARD_AUTH_PORT: '0',
    });
    // Auth is on by default: the token comes from the demo's own auth service.
    await p.waitFor((l) => l.includes('Auth is on'));
    const tokenLine = await p.waitFor((l) => l.trim().startsWith('TOKEN='));
    await p.waitFor((l) => l.includes('Ctrl-C stops everything'));
    const token = tokenLine.trim().slice('TOKEN='.length);
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    const status = await send(base, '/api/status');
    expect(status.status).toBe(200);
    expect(status.headers['ratelimit-limit']).toBe('20');
    const created = await send(base, '/api/orders', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        customerId: 'cus_Q4n8Zt2Lmx',
        items: [{ sku: 'MUG-BLUE-350', quantity: 2, unitPrice: { amount: 1250, currency: 'EUR' } }],
      }),
    });
    expect(created.status).toBe(201);
    const orderId = created.json().orderId as string;
    const read = await send(base, `/api/orders/${orderId}`, { headers: auth });
    expect(read.json()).toMatchObject({ orderId, createdBy: 'demo-user', total: { amount: 2500, currency: 'EUR' } });
    const invalidOrder = await send(base, '/api/orders', { method: 'POST', headers: auth, body: '{"items":[]}' });
    expect(invalidOrder.status).toBe(400);
    const charge = await send(base, '/api/payments/charge', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        orderId,
        amount: { amount: 2500, currency: 'EUR' },
        method: { kind: 'card', token: 'tok_4eC39HqLyjWDarjt' },
        idempotencyKey: 'charge-demo-test-1',
      }),
    });
    expect(charge.status).toBe(200);
    expect(charge.json()).toMatchObject({ orderId, status: 'succeeded' });
    expect((await send(base, '/api/orders')).status).toBe(401);
    expect((await send(`http://127.0.0.1:${adminPort}`, '/readyz')).status).toBe(200);

    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
  });
});
