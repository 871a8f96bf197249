/**
 * The web console in a real browser (Debian's chromium through playwright-core) against a
 * gateway on the shared etcd and RabbitMQ: a service process that registers shows up live
 * and disappears when SIGKILLed (lease expiry), a route applied with the CLI appears
 * without a reload, try-it lists the violations of an invalid body, and registry metadata
 * that looks like HTML is shown as text. Plus the 401/403 of the console's gate.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devJwtVerifierOptions, signDevToken } from '@switchyard/gateway';
import type { Infrastructure } from '@switchyard/sdk';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli, REPO_ROOT } from '../fixtures/cli-run.js';
import { type RunningGateway, serversInfra, startGateway } from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

const CHROMIUM = '/usr/bin/chromium';
const endpoint = inject('etcdEndpoint');
const amqpUrl = inject('amqpUrl');
const namespace = uniqueNamespace('console');
const cliEnv = { SWITCHYARD_ETCD: endpoint, SWITCHYARD_NAMESPACE: namespace };
const XSS = '<img src=x onerror=alert(1)>';
const CHARGE_SCHEMA = 'https://schemas.switchyard.dev/payments/payment.charge.request.json';

const routesV1 = `
- id: charge
  match: { path: /api/payments/charge, methods: [POST] }
  target: { type: rpc, service: payments, method: charge }
  requestSchema: ${CHARGE_SCHEMA}
`;
const routesV2 = `
- id: orders-read
  match: { path: /api/orders/:id, methods: [GET] }
  target: { type: http, service: orders }
  rateLimit: { points: 10, durationSeconds: 1, key: ip }
`;

/** The registry fixture as its own process, resolved once it has registered. */
async function startService(id: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'tests/fixtures/register-instance.ts'],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, SY_ETCD: endpoint, SY_NAMESPACE: namespace, SY_SERVICE: 'crashy', SY_ID: id, SY_TTL: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the service did not register within 20 s')), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('registered ')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the service exited with ${code}`)));
  });
  return child;
}

describe.skipIf(!existsSync(CHROMIUM))('the web console in chromium (skipped only without /usr/bin/chromium)', () => {
  let infra: Infrastructure;
  let gw: RunningGateway;
  let browser: Browser;
  let operator: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    infra = await serversInfra({ etcd: endpoint, amqp: amqpUrl, namespace });
    expect((await cli(['routes', 'apply', '-f', '-'], { env: cliEnv, stdin: routesV1 })).code).toBe(0);
    gw = await startGateway({ infra, auth: { jwt: devJwtVerifierOptions() }, console: { sampleIntervalMs: 500 } });
    operator = await signDevToken({ sub: 'console-operator', scopes: ['switchyard:operator'] });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
  }, 60_000);
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await browser?.close();
    await gw?.gateway.close();
    await infra?.close();
  });

  it('refuses a request without credentials (401) and a token without the operator scope (403)', async () => {
    for (const path of ['/console/api/session', '/console/api/services', '/console/api/events']) {
      const anonymous = await fetch(`${gw.adminUrl}${path}`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    const user = await signDevToken({ sub: 'someone', scopes: ['orders:read'] });
    const denied = await fetch(`${gw.adminUrl}/console/api/services`, { headers: { authorization: `Bearer ${user}` } });
    expect(denied.status).toBe(403);
    const session = await fetch(`${gw.adminUrl}/console/api/session`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    expect(await session.json()).toEqual({ subject: 'console-operator', auth: 'operator' });
    // The page itself holds no data (a browser cannot authenticate a page load with a bearer token).
    const ok = await fetch(`${gw.adminUrl}/console/`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(await ok.text()).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*src=)/);
  });

  it('shows instances and routes live, try-it violations, and registry HTML as text', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      // The token travels in the fragment, which the browser never sends.
      await page.goto(`${gw.adminUrl}/console/#token=${operator}`);
      await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: 10_000 });
      expect(page.url()).not.toContain(operator);

      const xss = await infra.registry.register({ service: 'xss', version: '6.6.6', metadata: { note: XSS } });
      const child = await startService('victim');
      children.push(child);
      const victim = page.locator('[data-instance="victim"]');
      await victim.waitFor({ timeout: 10_000 });
      const metadata = page.locator('[data-service="xss"] .metadata');
      await metadata.waitFor({ timeout: 10_000 });
      expect(await metadata.textContent()).toContain(`note=${XSS}`);
      expect(await page.locator('#services img').count()).toBe(0);

      expect((await cli(['routes', 'apply', '-f', '-'], { env: cliEnv, stdin: routesV2 })).code).toBe(0);
      const added = page.locator('[data-route="orders-read"]');
      await added.waitFor({ timeout: 10_000 });
      expect(await added.textContent()).toContain('10/1s per ip');

      await page.locator('#try-it select[name=target]').selectOption('route:charge');
      await page.locator('#try-it textarea[name=body]').fill('{"orderId": 42}');
      await page.locator('#try-it button[type=submit]').click();
      const violations = page.locator('#try-it .violations li');
      await violations.first().waitFor({ timeout: 10_000 });
      expect(await page.locator('#try-it .violations').textContent()).toContain('/orderId');

      // The compatibility check of a pasted schema: a string where an object was is a break.
      await page.locator('#schemas select[name=schema]').selectOption(CHARGE_SCHEMA);
      await page.locator('#schemas li', { hasText: 'current file' }).waitFor({ timeout: 10_000 });
      await page.locator('#schemas textarea[name=candidate]').fill('{"type": "string"}');
      await page.locator('#schemas button[type=submit]').click();
      await page.locator('#schemas ul.bad li').first().waitFor({ timeout: 10_000 });

      // Traffic for the charts and the errors panel: anonymous calls of a route that needs a token.
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${gw.url}/api/payments/charge`, { method: 'POST', body: '{}' });
        expect(res.status).toBe(401);
      }
      await page.locator('#errors', { hasText: 'UNAUTHENTICATED 20' }).waitFor({ timeout: 10_000 });
      await page.locator('#traffic-now', { hasText: /now: [1-9][\d.]* req\/s/ }).waitFor({ timeout: 10_000 });

      const dir = mkdtempSync(join(tmpdir(), 'switchyard-console-'));
      const shot = join(dir, 'console.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(1000);
      if (process.env.SWITCHYARD_UPDATE_SCREENSHOTS === '1') {
        await copyFile(shot, join(REPO_ROOT, 'docs/images/console.png'));
      }

      child.kill('SIGKILL');
      // No deregistration: the instance goes when its 2 s lease expires.
      await victim.waitFor({ state: 'detached', timeout: 15_000 });
      expect(dialogs).toBe(0);
      expect(pageErrors).toEqual([]);
      await xss.deregister();
    } finally {
      await page.close();
    }
  }, 60_000);
});
