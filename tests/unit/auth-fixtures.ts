// Shared fixtures of the tests/unit/auth-*.test.ts files: keys, token signing, requests.
import type { IncomingHttpHeaders } from 'node:http';
import { isSwitchyardError, type SwitchyardError } from '@switchyard/broker';
import type { AuthRequest } from '@switchyard/gateway';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { expect } from 'vitest';

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'switchyard-test';
export const HS_SECRET = 'test-hs256-secret-that-is-32-bytes-long!';

export interface TestKeyPair {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicPem: string;
  publicJwk: JWK;
}

export async function keyPair(kid: string, alg = 'RS256'): Promise<TestKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, publicPem: await exportSPKI(publicKey), publicJwk };
}

export const nowSec = (): number => Math.floor(Date.now() / 1000);

export interface SignOptions {
  alg?: string;
  /** `null`: no kid header. Default: the key pair's kid. */
  kid?: string | null;
  iss?: string | null;
  aud?: string | null;
  sub?: string | null;
  /** Absolute seconds; `null` for no exp. Default now + 300. */
  exp?: number | null;
  nbf?: number;
  iat?: number;
}

/** Sign a JWT with sensible valid defaults (issuer, audience, exp in 5 minutes). */
export async function sign(
  key: TestKeyPair | CryptoKey | Uint8Array,
  claims: JWTPayload = {},
  o: SignOptions = {},
): Promise<string> {
  const pair = typeof (key as TestKeyPair).kid === 'string' ? (key as TestKeyPair) : undefined;
  const alg = o.alg ?? pair?.alg ?? 'HS256';
  const kid = o.kid === undefined ? pair?.kid : o.kid;
  const header: { alg: string; kid?: string } = { alg };
  if (kid !== null && kid !== undefined) header.kid = kid;
  const jwt = new SignJWT(claims).setProtectedHeader(header).setIssuedAt(o.iat ?? nowSec());
  if (o.iss !== null) jwt.setIssuer(o.iss ?? ISSUER);
  if (o.aud !== null) jwt.setAudience(o.aud ?? AUDIENCE);
  if (o.sub !== null) jwt.setSubject(o.sub ?? 'user-1');
  if (o.exp !== null) jwt.setExpirationTime(o.exp ?? nowSec() + 300);
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
  return jwt.sign(pair ? pair.privateKey : (key as CryptoKey | Uint8Array));
}

export function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

export function request(
  o: { authorization?: string; headers?: IncomingHttpHeaders; method?: string; url?: string } = {},
): AuthRequest & { rawHeaders: string[] } {
  const headers: IncomingHttpHeaders = { host: 'gw.test', ...o.headers };
  if (o.authorization !== undefined) headers.authorization = o.authorization;
  const rawHeaders = Object.entries(headers).flatMap(([k, v]) => [k, String(v)]);
  return { method: o.method ?? 'GET', url: o.url ?? '/orders/1', headers, rawHeaders };
}

export const bearer = (token: string): string => `Bearer ${token}`;

/** The SwitchyardError a promise rejects with (fails the test if it resolves or throws something else). */
export async function rejection(p: Promise<unknown>): Promise<SwitchyardError> {
  try {
    await p;
  } catch (err) {
    expect(isSwitchyardError(err), `expected a SwitchyardError, got ${String(err)}`).toBe(true);
    return err as SwitchyardError;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** The SwitchyardError a function throws. */
export function thrown(fn: () => unknown): SwitchyardError {
  try {
    fn();
  } catch (err) {
    expect(isSwitchyardError(err), `expected a SwitchyardError, got ${String(err)}`).toBe(true);
    return err as SwitchyardError;
  }
  throw new Error('expected a throw, but the function returned');
}
