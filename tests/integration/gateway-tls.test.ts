import { MemoryRouteSource } from '@switchyard/gateway';
import { createInfrastructure, type Infrastructure } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  quietLogger,
  SCHEMAS_DIR,
  send,
  sendRaw,
  startGateway,
  startUpstream,
  type TestUpstream,
} from '../fixtures/gateway-harness.js';
import { selfSignedCertificate, type TestCertificate } from '../fixtures/gateway-tls.js';

// HTTPS on the public listener from a certificate configured as files (environment) or
// PEM text (options); the upstream hop stays plain HTTP, the admin listener too.

let cert: TestCertificate;
let infra: Infrastructure;
let upstream: TestUpstream;

beforeAll(async () => {
  cert = selfSignedCertificate();
  infra = await createInfrastructure({ env: { SWITCHYARD_SCHEMAS: SCHEMAS_DIR }, logger: quietLogger });
  upstream = await startUpstream('svc');
  await upstream.register(infra.registry, 'svc');
});

afterAll(async () => {
  await upstream?.close();
  await infra?.close();
  cert?.cleanup();
});

const routes = () =>
  new MemoryRouteSource([
    { id: 'svc', match: { path: '/svc/*' }, target: { type: 'http', service: 'svc' }, auth: { mode: 'off' } },
  ]);

describe('HTTPS', () => {
  it('serves routes and health over TLS with the certificate files from the environment', async () => {
    const gw = await startGateway({
      infra,
      routes: routes(),
      env: { SWITCHYARD_TLS_CERT: cert.certFile, SWITCHYARD_TLS_KEY: cert.keyFile },
    });
    try {
      expect(gw.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const r = await send(gw.url, '/svc/secure?q=1', { ca: cert.cert });
      expect(r.status).toBe(200);
      expect(upstream.seen.at(-1)!.url).toBe('/svc/secure?q=1');
      expect(upstream.seen.at(-1)!.headers['x-forwarded-proto']).toBe('https');
      expect((await send(gw.url, '/healthz', { ca: cert.cert })).json()).toEqual({ status: 'ok' });
      // The admin listener stays plain HTTP (internal).
      expect((await send(gw.adminUrl, '/healthz')).status).toBe(200);
      // Plain HTTP on the TLS port gets no HTTP answer.
      const plain = await sendRaw(gw.port, 'GET /svc/x HTTP/1.1\r\nHost: x\r\n\r\n', 500);
      expect(plain).not.toMatch(/^HTTP\/1\.1 200/);
      // An unknown certificate is refused by a verifying client.
      await expect(send(gw.url, '/svc/x')).rejects.toThrow(/self.signed|certificate/i);
    } finally {
      await gw.gateway.close();
    }
  });

  it('takes PEM text in the tls option', async () => {
    const gw = await startGateway({ infra, routes: routes(), tls: { cert: cert.cert, key: cert.key } });
    try {
      expect((await send(gw.url, '/svc/pem', { ca: cert.cert })).status).toBe(200);
    } finally {
      await gw.gateway.close();
    }
  });
});
