import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { InvalidOptionsError } from '@switchyard/broker';

/** scrypt cost: N (CPU/memory, a power of two), r (block size), p (parallelism). */
export interface HashParams {
  N: number;
  r: number;
  p: number;
}

/**
 * OWASP Password Storage Cheat Sheet, scrypt, first row: N=2^17 (128 MiB), r=8, p=1.
 * The secrets are random (32 bytes), so the cost guards a leaked store against nothing
 * but brute force of weak operator-chosen secrets; we still keep the minimum.
 */
export const DEFAULT_HASH_PARAMS: Readonly<HashParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function scryptAsync(secret: string, salt: Buffer, params: HashParams): Promise<Buffer> {
  // node's scrypt runs on the libuv threadpool: a grant being hashed never blocks the event loop.
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 256 * params.N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export function checkHashParams(params: HashParams, option = 'hashParams'): HashParams {
  const { N, r, p } = params ?? ({} as HashParams);
  if (!Number.isInteger(N) || N < 2 || (N & (N - 1)) !== 0) {
    throw new InvalidOptionsError(`${option}.N must be a power of two >= 2`, { details: { option } });
  }
  if (!Number.isInteger(r) || r < 1 || !Number.isInteger(p) || p < 1) {
    throw new InvalidOptionsError(`${option}.r and .p must be integers >= 1`, { details: { option } });
  }
  return { N, r, p };
}

/** `scrypt$N=…,r=…,p=…$<salt b64url>$<hash b64url>`: self-describing, so parameters can change later. */
export async function hashSecret(secret: string, params: HashParams = DEFAULT_HASH_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await scryptAsync(secret, salt, params);
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Constant-time check of a secret against a stored hash; false for a malformed hash. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!m) return false;
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  const expected = Buffer.from(m[5]!, 'base64url');
  const key = await scryptAsync(secret, Buffer.from(m[4]!, 'base64url'), params);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A new random secret: 32 bytes, base64url. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}
