import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  DEV_JWT_SECRET_ENV,
  DEV_TOKEN_ISSUER,
  devJwtSecret,
  devJwtVerifierOptions,
  JwtVerifier,
  signDevToken,
} from '@switchyard/gateway';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { rejection, thrown } from './auth-fixtures.js';

// The development-only token helper and its matching verifier configuration.
const envA = { [DEV_JWT_SECRET_ENV]: 'dev-secret-a-0123456789abcdef012345' };
const envB = { [DEV_JWT_SECRET_ENV]: 'dev-secret-b-0123456789abcdef012345' };

describe('signDevToken', () => {
  it('signs an HS256 token the dev verifier config accepts, with subject, scopes and ttl', async () => {
    const token = await signDevToken({ sub: 'dev-user', scopes: ['orders:read', 'orders:write'], ttl: 120, env: envA });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256', kid: 'switchyard-dev' });
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(120);
    expect(claims.iss).toBe(DEV_TOKEN_ISSUER);
    const verifier = new JwtVerifier(devJwtVerifierOptions(envA));
    await expect(verifier.verify(token)).resolves.toMatchObject({
      subject: 'dev-user',
      scopes: ['orders:read', 'orders:write'],
    });
    // another secret does not accept it
    const other = new JwtVerifier(devJwtVerifierOptions(envB));
    expect((await rejection(other.verify(token))).details?.reason).toBe('bad_signature');
    await Promise.all([verifier.close(), other.close()]);
  });

  it('without the env variable uses one generated secret per process', async () => {
    const a = devJwtSecret({});
    expect(a.source).toBe('generated');
    expect(devJwtSecret({}).secret).toBe(a.secret);
    expect(a.secret.length).toBe(32);
    const verifier = new JwtVerifier(devJwtVerifierOptions({}));
    const token = await signDevToken({ sub: 'u', ttl: '15m', env: {} });
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(900);
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'u', scopes: [] });
    await verifier.close();
  });

  it('validates its inputs, naming the option', async () => {
    expect(thrown(() => devJwtSecret({ [DEV_JWT_SECRET_ENV]: 'short' })).message).toMatch(
      /^SWITCHYARD_DEV_JWT_SECRET must be at least 32/,
    );
    expect((await rejection(signDevToken({ sub: 'u', ttl: 0 }))).message).toMatch(/^ttl /);
    expect((await rejection(signDevToken({ sub: 'u', ttl: 'soon' }))).message).toMatch(/^ttl /);
    expect((await rejection(signDevToken({ sub: 'a\nb' }))).message).toMatch(/^sub /);
    expect((await rejection(signDevToken({ sub: 'u', scopes: ['a b'] }))).message).toMatch(/^scopes /);
  });

  it('a token signed in another process (as `switchyard token` will) verifies here with the shared env secret', async () => {
    const script = `import { signDevToken } from '@switchyard/gateway';
process.stdout.write(await signDevToken({ sub: 'cli-user', scopes: ['a'] }));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script],
      { env: { ...process.env, ...envA }, timeout: 20_000 },
    );
    const verifier = new JwtVerifier(devJwtVerifierOptions(envA));
    await expect(verifier.verify(stdout.trim())).resolves.toMatchObject({ subject: 'cli-user', scopes: ['a'] });
    await verifier.close();
  });
});
