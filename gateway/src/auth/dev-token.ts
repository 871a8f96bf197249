import { randomBytes } from 'node:crypto';
import { InvalidOptionsError } from '@switchyard/broker';
import { SignJWT } from 'jose';
import type { JwtVerifierOptions } from './jwt-verifier.js';
import { isScopeToken } from './scopes.js';
import { type SecretKeyConfig, StaticKeySource } from './static-key-source.js';

/*
 * DEVELOPMENT ONLY. Tokens for the dev gateway and `switchyard token`: a shared HS256
 * secret, no key rotation, no real issuer. Never configure these keys in production: anyone
 * who knows the secret (or reads this environment) can mint any identity.
 */

/** Environment variable holding the dev HS256 secret (at least 32 characters). */
export const DEV_JWT_SECRET_ENV = 'SWITCHYARD_DEV_JWT_SECRET';
export const DEV_TOKEN_ISSUER = 'switchyard-dev';
export const DEV_TOKEN_AUDIENCE = 'switchyard';
export const DEV_KEY_ID = 'switchyard-dev';
/** Default lifetime of a dev token (seconds). */
export const DEV_TOKEN_TTL_SEC = 3600;

let generated: Uint8Array | undefined;

export interface DevSecret {
  secret: Uint8Array;
  /** `env`: from SWITCHYARD_DEV_JWT_SECRET, shared between processes. `generated`: random, this process only. */
  source: 'env' | 'generated';
}

/**
 * The dev secret: SWITCHYARD_DEV_JWT_SECRET when set, else 32 random bytes generated once
 * per process (tokens then verify only in the process that signed them).
 */
export function devJwtSecret(env: NodeJS.ProcessEnv = process.env): DevSecret {
  const fromEnv = env[DEV_JWT_SECRET_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < 32) {
      throw new InvalidOptionsError(`${DEV_JWT_SECRET_ENV} must be at least 32 characters`, {
        details: { option: DEV_JWT_SECRET_ENV },
      });
    }
    return { secret: new Uint8Array(Buffer.from(fromEnv, 'utf8')), source: 'env' };
  }
  generated ??= new Uint8Array(randomBytes(32));
  return { secret: generated, source: 'generated' };
}

/** The static key config matching signDevToken (DEVELOPMENT ONLY). */
export function devKeyConfig(env?: NodeJS.ProcessEnv): SecretKeyConfig {
  return { type: 'secret', kid: DEV_KEY_ID, secret: devJwtSecret(env).secret, algorithms: ['HS256'] };
}

/** JwtVerifier options that accept dev tokens (DEVELOPMENT ONLY): HS256, dev issuer and audience. */
export function devJwtVerifierOptions(env?: NodeJS.ProcessEnv): JwtVerifierOptions {
  return {
    keySource: new StaticKeySource({ keys: [devKeyConfig(env)] }),
    algorithms: ['HS256'],
    issuer: DEV_TOKEN_ISSUER,
    audience: DEV_TOKEN_AUDIENCE,
  };
}

export interface DevTokenOptions {
  sub: string;
  scopes?: string[];
  /** Lifetime: seconds, or a jose time span such as `'15m'`, `'2h'`. Default 3600. */
  ttl?: number | string;
  /** Extra claims (cannot override iss, aud, sub, iat, exp, scope). */
  claims?: Record<string, unknown>;
  /** Where to read SWITCHYARD_DEV_JWT_SECRET. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Sign a DEVELOPMENT-ONLY HS256 token accepted by devJwtVerifierOptions(). */
export async function signDevToken(options: DevTokenOptions): Promise<string> {
  const { sub, scopes = [], ttl = DEV_TOKEN_TTL_SEC, claims = {} } = options;
  if (typeof sub !== 'string' || !/^[\x20-\x7e]{1,1024}$/.test(sub)) {
    throw new InvalidOptionsError('sub must be printable ASCII text', { details: { option: 'sub' } });
  }
  if (!Array.isArray(scopes) || !scopes.every(isScopeToken)) {
    throw new InvalidOptionsError('scopes must be an array of scopes (no spaces or quotes)', {
      details: { option: 'scopes' },
    });
  }
  if (typeof ttl === 'number' ? !(Number.isInteger(ttl) && ttl > 0) : typeof ttl !== 'string') {
    throw new InvalidOptionsError(
      `ttl must be a positive integer (seconds) or a time span, got ${JSON.stringify(ttl)}`,
      {
        details: { option: 'ttl' },
      },
    );
  }
  const jwt = new SignJWT({ ...claims, scope: scopes.join(' ') })
    .setProtectedHeader({ alg: 'HS256', kid: DEV_KEY_ID, typ: 'JWT' })
    .setIssuer(DEV_TOKEN_ISSUER)
    .setAudience(DEV_TOKEN_AUDIENCE)
    .setSubject(sub)
    .setIssuedAt();
  try {
    jwt.setExpirationTime(typeof ttl === 'number' ? Math.floor(Date.now() / 1000) + ttl : ttl);
  } catch (cause) {
    throw new InvalidOptionsError(`ttl is not a valid time span: ${JSON.stringify(ttl)}`, {
      details: { option: 'ttl' },
      cause,
    });
  }
  return jwt.sign(devJwtSecret(options.env).secret);
}
