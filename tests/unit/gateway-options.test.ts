import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSwitchyardError, type SwitchyardError } from '@switchyard/broker';
import { AuthGuard, GATEWAY_DEFAULTS, MemoryRouteSource, resolveGatewayOptions } from '@switchyard/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate, type TestCertificate } from '../fixtures/gateway-tls.js';

// Options are validated once, at construction, and a mistake names the option or variable.
function refusal(fn: () => unknown): SwitchyardError {
  try {
    fn();
  } catch (err) {
    if (isSwitchyardError(err)) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

const noEnv = {};

describe('gateway options: defaults and environment', () => {
  it('has documented defaults with an empty environment (embedded mode)', () => {
    const o = resolveGatewayOptions({ env: noEnv });
    expect(o).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      adminPort: 9090,
      adminHost: '0.0.0.0',
      routesFile: 'routes.yaml',
      maxBodyBytes: 1024 * 1024,
      maxHeaderBytes: 16 * 1024,
      timeoutMs: 30_000,
      shutdownTimeoutMs: 10_000,
      streamKeepAliveMs: 15_000,
      wsMaxMessageBytes: 64 * 1024,
      wsHighWaterBytes: 256 * 1024,
      workers: 1,
      trustProxy: false,
      tls: undefined,
      exposeRoutes: true,
      readyWhileDegraded: true,
      defaultAuth: { mode: 'required' },
    });
    expect(o.switchyard.mode).toBe('embedded');
    // Embedded: development tokens are accepted (per-process secret).
    expect(o.auth.source).toBe('dev');
    expect(Object.isFrozen(o)).toBe(true);
    expect(GATEWAY_DEFAULTS.port).toBe(8080);
  });

  it('reads ports, routes file, trust proxy and log level from the environment', () => {
    const o = resolveGatewayOptions({
      env: {
        SWITCHYARD_GATEWAY_PORT: '8081',
        SWITCHYARD_ADMIN_PORT: '9191',
        SWITCHYARD_ROUTES_FILE: 'etc/routes.yaml',
        SWITCHYARD_TRUST_PROXY: '10.0.0.0/8, loopback',
        SWITCHYARD_LOG_LEVEL: 'warn',
        SWITCHYARD_GATEWAY_HOST: '127.0.0.1',
      },
    });
    expect(o).toMatchObject({
      port: 8081,
      adminPort: 9191,
      routesFile: 'etc/routes.yaml',
      trustProxy: ['10.0.0.0/8', 'loopback'],
      logLevel: 'warn',
      host: '127.0.0.1',
      adminHost: '127.0.0.1',
    });
    expect(resolveGatewayOptions({ env: { SWITCHYARD_TRUST_PROXY: '2' } }).trustProxy).toBe(2);
    expect(resolveGatewayOptions({ env: { SWITCHYARD_ADMIN_PORT: 'off' } }).adminPort).toBe(false);
  });

  it('lets an option beat its variable', () => {
    const o = resolveGatewayOptions({ env: { SWITCHYARD_GATEWAY_PORT: '8081' }, port: 0, adminPort: false });
    expect(o.port).toBe(0);
    expect(o.adminPort).toBe(false);
  });

  it('servers mode: no dev tokens unless the dev secret is set; a JWKS URL wins', () => {
    const servers = { SWITCHYARD_ETCD: 'http://127.0.0.1:2379', SWITCHYARD_AMQP: 'amqp://127.0.0.1' };
    expect(resolveGatewayOptions({ env: servers }).auth.source).toBe('none');
    expect(resolveGatewayOptions({ env: { ...servers, SWITCHYARD_DEV_JWT_SECRET: 'x'.repeat(32) } }).auth.source).toBe(
      'dev',
    );
    const jwks = resolveGatewayOptions({
      env: {
        ...servers,
        SWITCHYARD_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
        SWITCHYARD_JWT_ISSUER: 'https://idp.example.com/',
        SWITCHYARD_JWT_AUDIENCE: 'orders-api, payments-api',
      },
    });
    expect(jwks.auth.source).toBe('jwks');
    expect(jwks.auth.guard).toMatchObject({
      jwt: { issuer: ['https://idp.example.com/'], audience: ['orders-api', 'payments-api'] },
    });
    const guard = new AuthGuard();
    expect(resolveGatewayOptions({ env: servers, auth: guard }).auth).toEqual({ source: 'options', guard });
  });

  it('a static public key by environment: PEM text or a file path; refusals name the variable', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const servers = { SWITCHYARD_ETCD: 'http://127.0.0.1:2379', SWITCHYARD_AMQP: 'amqp://127.0.0.1' };
    const fromText = resolveGatewayOptions({
      env: { ...servers, SWITCHYARD_JWT_PUBLIC_KEY: pem, SWITCHYARD_JWT_ISSUER: 'idp' },
    });
    expect(fromText.auth.source).toBe('public-key');
    expect(fromText.auth.guard).toMatchObject({ jwt: { issuer: ['idp'], keySource: { algorithms: ['ES256'] } } });
    const dir = mkdtempSync(join(tmpdir(), 'sy-pubkey-'));
    const file = join(dir, 'idp.pem');
    writeFileSync(file, pem);
    expect(resolveGatewayOptions({ env: { ...servers, SWITCHYARD_JWT_PUBLIC_KEY: file } }).auth.source).toBe(
      'public-key',
    );
    const refused = (env: Record<string, string>) =>
      refusal(() => resolveGatewayOptions({ env: { ...servers, ...env } }));
    const both = refused({ SWITCHYARD_JWT_PUBLIC_KEY: pem, SWITCHYARD_JWKS_URL: 'https://idp/jwks.json' });
    expect(both.message).toMatch(/"SWITCHYARD_JWT_PUBLIC_KEY" and SWITCHYARD_JWKS_URL are both set/);
    const priv = refused({ SWITCHYARD_JWT_PUBLIC_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
    expect(priv.message).toMatch(/"SWITCHYARD_JWT_PUBLIC_KEY" holds a private key/);
    expect(refused({ SWITCHYARD_JWT_PUBLIC_KEY: join(dir, 'missing.pem') }).message).toMatch(/does not exist/);
    writeFileSync(join(dir, 'junk.pem'), 'hello');
    expect(refused({ SWITCHYARD_JWT_PUBLIC_KEY: join(dir, 'junk.pem') }).message).toMatch(
      /"SWITCHYARD_JWT_PUBLIC_KEY" does not hold a PEM public key or certificate/,
    );
    for (const e of [both, priv]) expect(e.code).toBe('INVALID_OPTIONS');
  });
});

describe('gateway options: refusals name the option', () => {
  const cases: Array<[string, () => unknown, string]> = [
    ['unknown option', () => resolveGatewayOptions({ env: noEnv, prot: 80 } as never), 'prot'],
    ['port out of range', () => resolveGatewayOptions({ env: noEnv, port: 70_000 }), 'port'],
    [
      'port from env',
      () => resolveGatewayOptions({ env: { SWITCHYARD_GATEWAY_PORT: 'http' } }),
      'SWITCHYARD_GATEWAY_PORT',
    ],
    ['admin port = port', () => resolveGatewayOptions({ env: noEnv, port: 8000, adminPort: 8000 }), 'adminPort'],
    ['negative body limit', () => resolveGatewayOptions({ env: noEnv, maxBodyBytes: -1 }), 'maxBodyBytes'],
    ['tiny header limit', () => resolveGatewayOptions({ env: noEnv, maxHeaderBytes: 10 }), 'maxHeaderBytes'],
    ['timeout 0', () => resolveGatewayOptions({ env: noEnv, timeoutMs: 0 }), 'timeoutMs'],
    ['routes not a source', () => resolveGatewayOptions({ env: noEnv, routes: {} as never }), 'routes'],
    ['bad trust proxy', () => resolveGatewayOptions({ env: noEnv, trustProxy: ['not-a-net'] }), 'trustProxy'],
    [
      'bad trust proxy env',
      () => resolveGatewayOptions({ env: { SWITCHYARD_TRUST_PROXY: 'x/99' } }),
      'SWITCHYARD_TRUST_PROXY',
    ],
    ['bad log level', () => resolveGatewayOptions({ env: { SWITCHYARD_LOG_LEVEL: 'loud' } }), 'SWITCHYARD_LOG_LEVEL'],
    [
      'short dev secret',
      () => resolveGatewayOptions({ env: { SWITCHYARD_DEV_JWT_SECRET: 'short' } }),
      'SWITCHYARD_DEV_JWT_SECRET',
    ],
    ['bad JWKS URL', () => resolveGatewayOptions({ env: { SWITCHYARD_JWKS_URL: 'not a url' } }), 'SWITCHYARD_JWKS_URL'],
    ['workers in embedded mode', () => resolveGatewayOptions({ env: noEnv, workers: 2 }), 'workers'],
    ['workers out of range', () => resolveGatewayOptions({ env: noEnv, workers: 0 }), 'workers'],
    [
      'readyWhileDegraded not a boolean',
      () => resolveGatewayOptions({ env: noEnv, readyWhileDegraded: 'yes' as never }),
      'readyWhileDegraded',
    ],
    [
      'zero WebSocket message limit',
      () => resolveGatewayOptions({ env: noEnv, wsMaxMessageBytes: 0 }),
      'wsMaxMessageBytes',
    ],
    [
      'WebSocket high-water mark below 1 KiB',
      () => resolveGatewayOptions({ env: noEnv, wsHighWaterBytes: 100 }),
      'wsHighWaterBytes',
    ],
    [
      'negative stream keep-alive',
      () => resolveGatewayOptions({ env: noEnv, streamKeepAliveMs: -1 }),
      'streamKeepAliveMs',
    ],
    [
      'rate limiter metrics',
      () => resolveGatewayOptions({ env: noEnv, rateLimit: { metrics: {} } as never }),
      'rateLimit.metrics',
    ],
    ['upstream view', () => resolveGatewayOptions({ env: noEnv, upstream: { view: {} } as never }), 'upstream.view'],
    ['tls without key', () => resolveGatewayOptions({ env: noEnv, tls: { cert: 'x' } as never }), 'tls.cert'],
    [
      'tls file missing',
      () => resolveGatewayOptions({ env: noEnv, tls: { cert: '/nope.pem', key: '/nope.pem' } }),
      'tls.cert',
    ],
    ['tls env half', () => resolveGatewayOptions({ env: { SWITCHYARD_TLS_CERT: '/x.pem' } }), 'SWITCHYARD_TLS_KEY'],
    [
      'embedded servers half',
      () => resolveGatewayOptions({ env: { SWITCHYARD_ETCD: 'http://h:1' } }),
      'SWITCHYARD_AMQP',
    ],
  ];
  for (const [what, fn, option] of cases) {
    it(`${what} -> INVALID_OPTIONS naming ${option}`, () => {
      const err = refusal(fn);
      expect(err.code).toBe('INVALID_OPTIONS');
      expect(err.details?.option).toBe(option);
      expect(err.message).toContain(option);
    });
  }

  it('accepts a memory route source and passes it through', () => {
    const routes = new MemoryRouteSource([]);
    expect(resolveGatewayOptions({ env: noEnv, routes }).routes).toBe(routes);
  });
});

describe('gateway options: TLS', () => {
  let cert: TestCertificate;
  beforeAll(() => {
    cert = selfSignedCertificate();
  });
  afterAll(() => cert.cleanup());

  it('takes PEM text or file paths, from options or the environment', () => {
    const fromText = resolveGatewayOptions({ env: noEnv, tls: { cert: cert.cert, key: cert.key } }).tls;
    const fromFiles = resolveGatewayOptions({ env: noEnv, tls: { cert: cert.certFile, key: cert.keyFile } }).tls;
    const fromEnv = resolveGatewayOptions({
      env: { SWITCHYARD_TLS_CERT: cert.certFile, SWITCHYARD_TLS_KEY: cert.keyFile },
    }).tls;
    for (const tls of [fromText, fromFiles, fromEnv]) {
      expect(tls?.cert).toBe(cert.cert);
      expect(tls?.key).toBe(cert.key);
    }
  });

  it('refuses a key where a certificate belongs', () => {
    const err = refusal(() => resolveGatewayOptions({ env: noEnv, tls: { cert: cert.key, key: cert.key } }));
    expect(err.details?.option).toBe('tls.cert');
  });

  it('takes the CA of https instances from SWITCHYARD_UPSTREAM_CA (file or text); upstream.tls.ca wins', () => {
    const fromFile = resolveGatewayOptions({ env: { SWITCHYARD_UPSTREAM_CA: cert.certFile } }).upstream;
    expect(fromFile.tls?.ca).toBe(cert.cert);
    const keepsOthers = resolveGatewayOptions({
      env: { SWITCHYARD_UPSTREAM_CA: cert.cert },
      upstream: { tls: { rejectUnauthorized: true }, defaultRetries: 2 },
    }).upstream;
    // Environment values are trimmed: the PEM text loses its final newline, nothing else.
    expect(keepsOthers).toMatchObject({ tls: { ca: cert.cert.trim(), rejectUnauthorized: true }, defaultRetries: 2 });
    const own = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    expect(
      resolveGatewayOptions({ env: { SWITCHYARD_UPSTREAM_CA: cert.certFile }, upstream: { tls: { ca: own } } }).upstream
        .tls?.ca,
    ).toBe(own);
    expect(resolveGatewayOptions({ env: noEnv }).upstream.tls).toBeUndefined();
    const err = refusal(() => resolveGatewayOptions({ env: { SWITCHYARD_UPSTREAM_CA: cert.keyFile } }));
    expect(err.details?.option).toBe('SWITCHYARD_UPSTREAM_CA');
  });
});

describe('gateway options: openApi', () => {
  it('is on by default with the documented title and operator scope; false turns it off', () => {
    expect(resolveGatewayOptions({ env: noEnv }).openApi).toEqual({
      title: 'Switchyard gateway',
      description: '',
      operatorScope: 'switchyard:operator',
    });
    expect(resolveGatewayOptions({ env: noEnv, openApi: false }).openApi).toBe(false);
    expect(
      resolveGatewayOptions({ env: noEnv, openApi: { title: 'Shop API', operatorScope: 'ops' } }).openApi,
    ).toMatchObject({ title: 'Shop API', operatorScope: 'ops' });
  });

  it('a bad setting names the option', () => {
    for (const [openApi, option] of [
      [{ title: '' }, 'openApi.title'],
      [{ operatorScope: 'has space' }, 'openApi.operatorScope'],
      [{ tilte: 'typo' }, 'openApi.tilte'],
      ['yes', 'openApi'],
    ] as const) {
      const err = refusal(() => resolveGatewayOptions({ env: noEnv, openApi: openApi as never }));
      expect(err.code).toBe('INVALID_OPTIONS');
      expect(err.message).toContain(option);
    }
  });
});
