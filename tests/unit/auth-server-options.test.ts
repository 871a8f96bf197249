/**
 * The auth service's options are checked at construction, with the option named: HTTPS
 * material that is not PEM or whose key does not match its certificate fails at startup,
 * not at the first handshake; the environment's certificate and key go together.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthServer, initCa, issueCert, MemoryAuthStore, runAuthService } from '@switchyard/auth';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
const pem = (name: string) => readFileSync(join(dir, name), 'utf8');
const masterKey = Buffer.alloc(32, 1);
const base = () => ({ store: new MemoryAuthStore(), masterKey, port: 0, logger: pino({ level: 'silent' }) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-auth-options-'));
  await initCa({ dir });
  await issueCert({ caDir: dir, name: 'a', dns: ['localhost'], server: true });
  await issueCert({ caDir: dir, name: 'b', dns: ['localhost'], server: true });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('auth server options', () => {
  it.each([
    [{ issuer: 'ftp://x' }, /option "issuer" must be an http\(s\) URL/],
    [{ algorithm: 'HS256' }, /option "algorithm" must be EdDSA, ES256 or RS256/],
    [{ accessTokenTtlSec: 0 }, /option "accessTokenTtlSec" must be an integer in \[1, 86400\]/],
    [{ tls: 'cert.pem' }, /option "tls" must be an object \{ cert, key \}/],
    [{ tls: { cert: 'cert.pem', key: 'key.pem' } }, /option "tls.cert" must be PEM text of a certificate/],
  ])('%j is refused with INVALID_OPTIONS', (extra, message) => {
    expect(() => createAuthServer({ ...base(), ...(extra as object) })).toThrow(message);
  });

  it('a key that does not belong to the certificate is refused at construction', () => {
    expect(() => createAuthServer({ ...base(), tls: { cert: pem('a.crt'), key: pem('b.key') } })).toThrow(
      /option "tls" cert and key cannot be used together/,
    );
  });

  it('with tls the issuer is https://', async () => {
    const server = createAuthServer({ ...base(), tls: { cert: pem('a.crt'), key: pem('a.key') } });
    await server.start();
    try {
      expect(server.issuer).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await server.close();
    }
  });

  it('SWITCHYARD_AUTH_TLS_CERT without SWITCHYARD_AUTH_TLS_KEY is refused, naming the missing one', async () => {
    await expect(
      runAuthService(
        { SWITCHYARD_AUTH_PORT: '0', SWITCHYARD_AUTH_TLS_CERT: join(dir, 'a.crt') },
        { logger: pino({ level: 'silent' }), handleSignals: false },
      ),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      message: expect.stringMatching(/SWITCHYARD_AUTH_TLS_KEY is not set/),
    });
  });

  it('SWITCHYARD_AUTH_TLS_KEY naming a missing file is refused, naming the variable', async () => {
    await expect(
      runAuthService(
        {
          SWITCHYARD_AUTH_PORT: '0',
          SWITCHYARD_AUTH_TLS_CERT: join(dir, 'a.crt'),
          SWITCHYARD_AUTH_TLS_KEY: '/nonexistent.key',
        },
        { logger: pino({ level: 'silent' }), handleSignals: false },
      ),
    ).rejects.toMatchObject({ message: expect.stringMatching(/SWITCHYARD_AUTH_TLS_KEY.*does not exist/) });
  });

  it('a port in use fails start with the listen error, and the service is closed', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(
        runAuthService(
          { SWITCHYARD_AUTH_PORT: String(port) },
          { logger: pino({ level: 'silent' }), handleSignals: false },
        ),
      ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      blocker.close();
    }
  });
});
