/**
 * etcd over TLS: a private etcd with an https:// client URL and `--client-cert-auth`,
 * certificates from the development CA made here. Every etcd client the SDK, the gateway
 * and the CLI create goes through createEtcdClient({ tls }): the registry and its view,
 * the schema source, the gateway's route source and a CLI command are shown to work with
 * a client certificate; without one (or without the CA) calls fail within the dial
 * timeout instead of retrying forever. The auth service keeps its state in this etcd over
 * TLS and serves its token endpoint over HTTPS.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, issueCert } from '@switchyard/auth';
import { EtcdRouteSource, type RouteSnapshot } from '@switchyard/gateway';
import { createInfrastructure, EtcdRegistry, type EtcdTlsOptions, TokenClient } from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli, spawnCli } from '../fixtures/cli-run.js';
import { PrivateEtcd } from '../harness/etcd.js';
import { uniqueNamespace } from '../harness/servers.js';

let etcd: PrivateEtcd | undefined;
let dir: string;
const made: Array<{ close(): Promise<void> | void }> = [];
const file = (name: string) => join(dir, name);
const pem = (name: string) => readFileSync(file(name), 'utf8');
const clientTls = (): EtcdTlsOptions => ({ ca: pem('ca.crt'), cert: pem('svc.crt'), key: pem('svc.key') });
const tlsEnv = () => ({
  SWITCHYARD_ETCD: etcd!.endpoint,
  SWITCHYARD_ETCD_CA: file('ca.crt'),
  SWITCHYARD_ETCD_CERT: file('svc.crt'),
  SWITCHYARD_ETCD_KEY: file('svc.key'),
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-etcd-tls-'));
  await initCa({ dir });
  await issueCert({ caDir: dir, name: 'etcd', dns: ['localhost'], ip: ['127.0.0.1'], server: true });
  await issueCert({ caDir: dir, name: 'svc', client: true });
  await issueCert({ caDir: dir, name: 'auth', dns: ['localhost'], ip: ['127.0.0.1'], server: true });
  etcd = await PrivateEtcd.start({
    tls: {
      caFile: file('ca.crt'),
      certFile: file('etcd.crt'),
      keyFile: file('etcd.key'),
      clientCertFile: file('svc.crt'),
      clientKeyFile: file('svc.key'),
    },
  });
}, 60_000);

afterAll(async () => {
  for (const m of made.reverse()) await m.close();
  await etcd?.close();
  rmSync(dir, { recursive: true, force: true });
});

function registry(tls: EtcdTlsOptions | undefined, namespace: string): EtcdRegistry {
  const r = new EtcdRegistry({ endpoints: etcd!.endpoint, namespace, dialTimeoutMs: 1_000, ...(tls ? { tls } : {}) });
  made.push(r);
  return r;
}

describe('etcd over TLS with a client certificate', () => {
  it('EtcdRegistry registers and its view sees the instance', async () => {
    const namespace = uniqueNamespace('etcd-tls');
    const writer = registry(clientTls(), namespace);
    const reader = registry(clientTls(), namespace);
    await Promise.all([writer.start(), reader.start()]);
    await writer.register({ service: 'ledger', version: '1', id: 'l-1' });
    const view = reader.view();
    await view.ready;
    expect(view.instances('ledger').map((i) => i.id)).toEqual(['l-1']);
  });

  it('createInfrastructure takes SWITCHYARD_ETCD_CA/CERT/KEY for the registry and the etcd schema source', async () => {
    const infra = await createInfrastructure({
      env: { ...tlsEnv(), SWITCHYARD_AMQP: inject('amqpUrl'), SWITCHYARD_SCHEMAS: 'etcd' },
      namespace: uniqueNamespace('etcd-tls-infra'),
      logger: pino({ level: 'silent' }),
    });
    made.push(infra);
    expect(infra.config.etcdTls).toEqual(clientTls());
    const reg = await infra.registry.register({ service: 'infra', version: '1', id: 'i-1' });
    expect((await infra.registry.listInstances('infra')).map((i) => i.id)).toEqual(['i-1']);
    await reg.deregister();
  });

  it("the gateway's route source lists routes over TLS", async () => {
    const source = new EtcdRouteSource({ endpoints: etcd!.endpoint, tls: clientTls(), namespace: 'tls-routes' });
    made.push({ close: () => source.close() });
    const snapshots: RouteSnapshot[] = [];
    await source.start((s) => snapshots.push(s));
    expect(source.synced).toBe(true);
    expect(snapshots).toHaveLength(1);
  });

  it('the CLI reads the same variables', async () => {
    const r = await cli(['routes', 'list', '--json'], { env: { ...tlsEnv(), SWITCHYARD_NAMESPACE: 'tls-cli' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});

describe('etcd over TLS refusals', () => {
  it('without a client certificate, registering fails with UNAVAILABLE (bounded by the dial timeout)', async () => {
    const r = registry({ ca: pem('ca.crt') }, uniqueNamespace('etcd-tls-nocert'));
    await expect(r.register({ service: 'svc', version: '1' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(r.listServices()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('without the CA (node roots only), registering fails with UNAVAILABLE', async () => {
    const r = registry({ cert: pem('svc.crt'), key: pem('svc.key') }, uniqueNamespace('etcd-tls-noca'));
    const err = await r.register({ service: 'svc', version: '1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    // grpc's last error says why: etcd's certificate did not verify.
    expect((err as Error).message).toMatch(/unable to verify the first certificate/);
  });

  it('the CLI reports etcd unreachable (exit 3) without a client certificate', async () => {
    const { SWITCHYARD_ETCD_CERT: _c, SWITCHYARD_ETCD_KEY: _k, ...caOnly } = tlsEnv();
    const r = await cli(['routes', 'list'], { env: caOnly });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/etcd at https:\/\/127\.0\.0\.1:\d+ is unreachable/);
  });
});

/** GET/POST over HTTPS trusting only the test's CA; resolves with status and JSON body. */
function https(url: string, init: { method?: string; body?: string; ca?: string } = {}) {
  return new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method ?? 'GET',
        ca: init.ca ?? pem('ca.crt'),
        headers: init.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('the auth service over TLS', () => {
  it('keeps accounts in etcd over TLS and serves the token endpoint and JWKS over HTTPS', async () => {
    const namespace = uniqueNamespace('etcd-tls-auth');
    const env = {
      ...tlsEnv(),
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_AUTH_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
      SWITCHYARD_AUTH_PORT: '0',
      SWITCHYARD_AUTH_TLS_CERT: file('auth.crt'),
      SWITCHYARD_AUTH_TLS_KEY: file('auth.key'),
      SWITCHYARD_LOG_LEVEL: 'warn',
    };
    const serve = spawnCli(['auth', 'serve'], { env });
    made.push({
      close: async () => {
        serve.child.kill('SIGTERM');
        await serve.exited;
      },
    });
    const url = (await serve.stderr.waitFor(/listening on (https:\/\/\S+?);/, 30_000))[1]!;

    const created = await cli(['auth', 'accounts', 'create', 'orders', '--scope', 'payments:charge', '--json'], {
      env,
    });
    expect(created.code, created.stderr).toBe(0);
    const secret = (JSON.parse(created.stdout) as { secret: string }).secret;

    const discovery = await https(`${url}/.well-known/openid-configuration`);
    expect(discovery.json).toMatchObject({ issuer: url, token_endpoint: `${url}/oauth/token` });
    const jwks = await https(`${url}/.well-known/jwks.json`);
    expect((jwks.json.keys as unknown[]).length).toBeGreaterThan(0);
    const grant = await https(`${url}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'orders',
        client_secret: secret,
      }).toString(),
    });
    expect(grant.status).toBe(200);
    expect(grant.json).toMatchObject({ token_type: 'Bearer', scope: 'payments:charge' });

    // A Node client that trusts the CA through NODE_EXTRA_CA_CERTS (docs/tls.md) gets a token;
    // without it, the certificate is refused and the command says so.
    const trusted = spawnCli(['auth', 'token', '--url', url, '--client-id', 'orders', '--client-secret-stdin'], {
      env: { NODE_EXTRA_CA_CERTS: file('ca.crt') },
      stdin: secret,
    });
    const ok = await trusted.exited;
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const untrusted = await spawnCli(
      ['auth', 'token', '--url', url, '--client-id', 'orders', '--client-secret-stdin'],
      {
        stdin: secret,
      },
    ).exited;
    expect(untrusted.code).toBe(2);
    expect(untrusted.stderr).toMatch(/cannot be reached \(UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    // A service in a process that does not trust the CA fails its token start with the reason.
    const service = new TokenClient({
      tokenUrl: `${url}/oauth/token`,
      credentials: { clientId: 'orders', clientSecret: secret },
    });
    await expect(service.start()).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/cannot be reached \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/),
    });
    service.close();
    // Another CA is not trusted either.
    await expect(
      https(`${url}/.well-known/jwks.json`, { ca: readFileSync(file('svc.crt'), 'utf8') }),
    ).rejects.toThrow();
  }, 60_000);
});
