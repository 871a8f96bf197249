import { AuthGuard, JwksKeySource, JwtVerifier, StaticKeySource } from '@switchyard/gateway';
import { importPKCS8 } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { HS_SECRET, keyPair, rejection, sign, type TestKeyPair, thrown } from './auth-fixtures.js';

// Options are validated at construction: InvalidOptionsError naming the option.
const CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBmjCCAT+gAwIBAgIUB5h8QppbFL0eCq6bBEDMiDlYl6AwCgYIKoZIzj0EAwIw
ITEfMB0GA1UEAwwWc3dpdGNoeWFyZC10ZXN0LWlzc3VlcjAgFw0yNjExMjUxMTQw
NDNaGA8yMTI2MTEwMTExNDA0M1owITEfMB0GA1UEAwwWc3dpdGNoeWFyZC10ZXN0
LWlzc3VlcjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABKTJpVdQ1AtIlSoTmdgB
X5A+ICbCQ+zMy/VIqLyt31WYdD7qAgvGvTdCbUPvPobxZTof0MS1dLbYqoAQORus
NaOjUzBRMB0GA1UdDgQWBBR6FrtBE7nynDPjBeumWZUEFeTQgjAfBgNVHSMEGDAW
gBR6FrtBE7nynDPjBeumWZUEFeTQgjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49
BAMCA0kAMEYCIQCdTA31ZEvpo8gq2BXbEiej2UfwofJbh6M3WBH9Rm0OpgIhANhV
HQmnKrhzH5fMN+TEntIM1kutDw8EjHlC+0hJlQ27
-----END CERTIFICATE-----`;
// The certificate's key, for signing test tokens only.
const CERT_PRIVATE_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgk5tlncTEmOAX/FDY
OuI5f9nKOo3s3CWlFIwzs93T8FuhRANCAASkyaVXUNQLSJUqE5nYAV+QPiAmwkPs
zMv1SKi8rd9VmHQ+6gILxr03Qm1D7z6G8WU6H9DEtXS22KqAEDkbrDWj
-----END PRIVATE KEY-----`;
let rsa: TestKeyPair;
let ec: TestKeyPair;
beforeAll(async () => {
  [rsa, ec] = await Promise.all([keyPair('rsa-1'), keyPair('ec-1', 'ES256')]);
});

function invalid(fn: () => unknown, option: RegExp) {
  const err = thrown(fn);
  expect(err.code).toBe('INVALID_OPTIONS');
  expect(err.message).toMatch(option);
  return err;
}

describe('JwtVerifier options', () => {
  const hsSource = () => new StaticKeySource({ keys: [{ type: 'secret', secret: HS_SECRET }] });
  const rsSource = () => new StaticKeySource({ keys: [{ type: 'pem', pem: rsa.publicPem }] });

  it('refuses "none" in algorithms', () => {
    const err = invalid(
      () => new JwtVerifier({ keySource: hsSource(), algorithms: ['none' as 'HS256'] }),
      /^algorithms /,
    );
    expect(err.message).toContain('"none"');
    expect(err.details).toMatchObject({ option: 'algorithms' });
    invalid(() => new JwtVerifier({ keySource: hsSource(), algorithms: ['HS256', 'NONE' as 'HS256'] }), /^algorithms /);
  });

  it('refuses HS algorithms without a secret, and RS algorithms with only a secret', () => {
    expect(
      invalid(() => new JwtVerifier({ keySource: rsSource(), algorithms: ['HS256'] }), /^algorithms /).message,
    ).toMatch(/HMAC secret/);
    expect(
      invalid(() => new JwtVerifier({ keySource: hsSource(), algorithms: ['RS256'] }), /^algorithms /).message,
    ).toMatch(/public key/);
  });

  it('refuses empty or unknown algorithms and bad claim options', () => {
    invalid(() => new JwtVerifier({ keySource: hsSource(), algorithms: [] }), /^algorithms /);
    invalid(() => new JwtVerifier({ keySource: hsSource(), algorithms: ['XS256' as 'HS256'] }), /^algorithms /);
    invalid(() => new JwtVerifier({ keySource: hsSource(), clockToleranceSec: -1 }), /^clockToleranceSec /);
    invalid(() => new JwtVerifier({ keySource: hsSource(), issuer: '' }), /^issuer /);
    invalid(() => new JwtVerifier({ keySource: hsSource(), audience: [] }), /^audience /);
    invalid(() => new JwtVerifier({ keySource: hsSource(), requiredClaims: [''] }), /^requiredClaims /);
    invalid(() => new JwtVerifier({ keySource: hsSource(), maxTokenAgeSec: 0 }), /^maxTokenAgeSec /);
    invalid(() => new JwtVerifier({ keySource: hsSource(), cache: { maxEntries: 0 } }), /^cache\.maxEntries /);
    invalid(() => new JwtVerifier({ keySource: hsSource(), cache: { maxTtlMs: 1.5 } }), /^cache\.maxTtlMs /);
    invalid(() => new JwtVerifier({ keySource: {} as never }), /^keySource /);
  });

  it('defaults the allow-list to the key source algorithms', () => {
    const v = new JwtVerifier({
      keySource: new StaticKeySource({
        keys: [
          { type: 'secret', kid: 'h', secret: HS_SECRET.repeat(2), algorithms: ['HS256', 'HS384'] },
          { type: 'pem', kid: 'r', pem: rsa.publicPem, algorithms: ['RS256', 'PS256'] },
        ],
      }),
    });
    expect(v.algorithms).toEqual(['HS256', 'HS384', 'RS256', 'PS256']);
    expect(v.clockToleranceSec).toBe(5);
  });
});

describe('StaticKeySource options', () => {
  it('binds each key to its family: a secret is never RS, a public key never HS', () => {
    expect(
      invalid(
        () => new StaticKeySource({ keys: [{ type: 'secret', secret: HS_SECRET, algorithms: ['RS256'] }] }),
        /^keys\[0\]\.algorithms /,
      ).message,
    ).toMatch(/needs a public key, but this key is a secret/);
    expect(
      invalid(
        () => new StaticKeySource({ keys: [{ type: 'pem', pem: rsa.publicPem, algorithms: ['HS256'] }] }),
        /^keys\[0\]\.algorithms /,
      ).message,
    ).toMatch(/needs a secret, but this key is a public key/);
    invalid(
      () => new StaticKeySource({ keys: [{ type: 'jwk', jwk: rsa.publicJwk, algorithms: ['ES256'] }] }),
      /^keys\[0\]\.algorithms /,
    );
    invalid(
      () => new StaticKeySource({ keys: [{ type: 'jwk', jwk: ec.publicJwk, algorithms: ['ES384'] }] }),
      /^keys\[0\]\.algorithms /,
    );
    // a JWK pinned to RS256 cannot be used for PS256
    invalid(
      () => new StaticKeySource({ keys: [{ type: 'jwk', jwk: rsa.publicJwk, algorithms: ['PS256'] }] }),
      /pinned/,
    );
  });

  it('refuses short secrets, private keys, bad PEMs, small RSA keys, ambiguous kid-less keys', async () => {
    invalid(
      () => new StaticKeySource({ keys: [{ type: 'secret', secret: 'short' }] }),
      /^keys\[0\] secret must be at least 32 bytes/,
    );
    invalid(
      () => new StaticKeySource({ keys: [{ type: 'secret', secret: HS_SECRET, algorithms: ['HS512'] }] }),
      /at least 64 bytes for HS512/,
    );
    invalid(() => new StaticKeySource({ keys: [{ type: 'pem', pem: 'not a pem' }] }), /^keys\[0\]\.pem /);
    invalid(
      () =>
        new StaticKeySource({
          keys: [{ type: 'pem', pem: '-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----' }],
        }),
      /private key/,
    );
    invalid(() => new StaticKeySource({ keys: [{ type: 'jwk', jwk: { ...rsa.publicJwk, d: 'x' } }] }), /private key/);
    const { publicKey } = await import('node:crypto').then((c) =>
      c.generateKeyPairSync('rsa', { modulusLength: 1024 }),
    );
    invalid(
      () =>
        new StaticKeySource({
          keys: [{ type: 'pem', pem: publicKey.export({ type: 'spki', format: 'pem' }) as string }],
        }),
      /1024-bit RSA key/,
    );
    invalid(
      () =>
        new StaticKeySource({
          keys: [
            { type: 'pem', pem: rsa.publicPem },
            { type: 'jwk', jwk: { ...rsa.publicJwk, kid: undefined } },
          ],
        }),
      /both accept RS256 without a kid/,
    );
    invalid(
      () =>
        new StaticKeySource({
          keys: [
            { type: 'secret', kid: 'a', secret: HS_SECRET },
            { type: 'secret', kid: 'a', secret: HS_SECRET },
          ],
        }),
      /^keys\[1\]\.kid duplicates/,
    );
    invalid(() => new StaticKeySource({ keys: [] }), /^keys /);
    invalid(() => new StaticKeySource({ keys: [{ type: 'x509' } as never] }), /^keys\[0\]\.type /);
  });

  it('accepts an X.509 certificate PEM (test-only self-signed P-256 certificate)', async () => {
    const source = new StaticKeySource({ keys: [{ type: 'pem', kid: 'cert-1', pem: CERT_PEM }] });
    expect(source.algorithms).toEqual(['ES256']);
    const verifier = new JwtVerifier({ keySource: source });
    const privateKey = await importPKCS8(CERT_PRIVATE_KEY_PEM, 'ES256');
    const token = await sign(privateKey, {}, { alg: 'ES256', kid: 'cert-1' });
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'user-1' });
    await verifier.close();
  });

  it('is unusable after close', async () => {
    const s = new StaticKeySource({ keys: [{ type: 'secret', secret: HS_SECRET }] });
    await s.close();
    expect((await rejection(s.start())).code).toBe('CLOSED');
  });
});

describe('JwksKeySource and AuthGuard options', () => {
  it('refuses HS algorithms, bad URLs and durations', () => {
    invalid(
      () => new JwksKeySource({ url: 'https://idp.test/jwks', algorithms: ['HS256'] }),
      /^algorithms contains HS256/,
    );
    invalid(() => new JwksKeySource({ url: 'https://idp.test/jwks', algorithms: ['none' as 'RS256'] }), /^algorithms /);
    invalid(() => new JwksKeySource({ url: 'not a url' }), /^url /);
    invalid(() => new JwksKeySource({ url: 'ftp://idp.test/jwks' }), /^url /);
    invalid(() => new JwksKeySource({ url: 'https://idp.test/jwks', cooldownMs: -1 }), /^cooldownMs /);
    invalid(() => new JwksKeySource({ url: 'https://idp.test/jwks', cacheMaxAgeMs: 1.5 }), /^cacheMaxAgeMs /);
    invalid(() => new JwksKeySource({ url: 'https://idp.test/jwks', timeoutMs: Number.NaN }), /^timeoutMs /);
  });

  it('AuthGuard validates realm, forwardClaims and forwardCredentials', () => {
    invalid(() => new AuthGuard({ realm: '' }), /^realm /);
    invalid(() => new AuthGuard({ forwardClaims: [''] }), /^forwardClaims /);
    invalid(() => new AuthGuard({ forwardCredentials: 'yes' as never }), /^forwardCredentials /);
  });
});
