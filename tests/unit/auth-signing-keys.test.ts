import { randomBytes } from 'node:crypto';
import { createAuthServer, MemoryAuthStore } from '@switchyard/auth';
import { TokenVerifier } from '@switchyard/sdk';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';

const TEST_HASH = { N: 2 ** 10, r: 8, p: 1 };
const silent = pino({ level: 'silent' });
const kids = async (url: string) =>
  ((await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; d?: string }> }).keys;

describe('signing keys', () => {
  it('rotate: the old public key stays published until its last token expired, then leaves', async () => {
    const store = new MemoryAuthStore();
    const server = createAuthServer({
      store,
      masterKey: randomBytes(32),
      port: 0,
      hashParams: TEST_HASH,
      // JWT times are whole seconds: a 1 s token may live only a moment, so 3 s leaves
      // the verify below room on a loaded machine.
      accessTokenTtlSec: 3,
      clockToleranceSec: 0,
      logger: silent,
    });
    await server.start();
    const url = server.address()!.url;
    await server.createAccount({ id: 'svc', type: 'service' });
    const oldToken = await server.issueToken('svc');
    const [first] = await kids(url);
    const second = await server.rotateKeys();
    expect((await kids(url)).map((k) => k.kid)).toEqual([second, first!.kid]);
    // A token the old key signed still verifies while it is valid.
    expect((await new TokenVerifier({ issuer: url, clockToleranceSec: 0 }).verify(oldToken)).id).toBe('svc');
    // Retired once every token it signed has expired: the rotation time plus the TTL.
    await new Promise((r) => setTimeout(r, 3_100));
    expect((await kids(url)).map((k) => k.kid)).toEqual([second]);
    // The JWKS never has private parts.
    expect((await kids(url)).every((k) => k.d === undefined)).toBe(true);
    await server.close();
  });

  it('are stored encrypted: no private key material in clear, and the wrong master key is a clear error', async () => {
    const store = new MemoryAuthStore();
    const master = randomBytes(32);
    const a = createAuthServer({ store, masterKey: master, port: 0, hashParams: TEST_HASH, logger: silent });
    await a.start();
    const records = await store.listKeys();
    expect(records).toHaveLength(1);
    const text = JSON.stringify(records);
    expect(text).not.toMatch(/"d":/);
    expect(Object.keys(records[0]!.publicJwk)).not.toContain('d');
    await a.close();
    const b = createAuthServer({ store, masterKey: randomBytes(32), port: 0, hashParams: TEST_HASH, logger: silent });
    await expect(b.start()).rejects.toThrow(/cannot be decrypted: SWITCHYARD_AUTH_MASTER_KEY is not the key/);
    await b.close();
  });

  it('options are checked at construction, naming the bad one', () => {
    const store = new MemoryAuthStore();
    expect(() => createAuthServer({ store, masterKey: randomBytes(16) })).toThrow(/masterKey must be 32 bytes/);
    expect(() => createAuthServer({ store, masterKey: randomBytes(32), algorithm: 'HS256' as 'EdDSA' })).toThrow(
      /"algorithm"/,
    );
    expect(() => createAuthServer({ store, masterKey: randomBytes(32), accessTokenTtlSec: 0 })).toThrow(
      /accessTokenTtlSec/,
    );
  });
});
