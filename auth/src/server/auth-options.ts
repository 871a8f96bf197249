import { createSecureContext } from 'node:tls';
import { InvalidOptionsError } from '@switchyard/broker';
import { DEFAULT_TOKEN_AUDIENCE } from '@switchyard/sdk';
import type { Logger } from 'pino';
import { parseMasterKey } from '../keys/key-encryption.js';
import type { SigningAlgorithm } from '../keys/key-ring.js';
import { checkHashParams, DEFAULT_HASH_PARAMS, type HashParams } from '../secrets/secret-hash.js';
import type { AuthStore } from '../store/auth-store.js';

export interface AuthServerOptions {
  /** Where accounts, refresh tokens and keys live. Required (EtcdAuthStore or MemoryAuthStore). */
  store: AuthStore;
  /** 32 bytes (or base64 of them) encrypting signing keys at rest. Required. */
  masterKey: Uint8Array | string;
  /** Public base URL, the `iss` of every token. Default `http(s)://<host>:<port>` once listening. */
  issuer?: string;
  /**
   * HTTPS on the listener: the server certificate and key (PEM contents). Default plain
   * HTTP, which is for a loopback-only development service: client secrets cross this link.
   */
  tls?: AuthServerTls;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 4455; 0 picks a free port. */
  port?: number;
  /** Default `switchyard`. */
  audience?: string;
  /** Default 900 (15 min): the bound on how long a revoked account's tokens keep working. */
  accessTokenTtlSec?: number;
  /** Default 2592000 (30 days). */
  refreshTokenTtlSec?: number;
  /** Default 86400 (a day). */
  keyRotationIntervalSec?: number;
  /** Default 'EdDSA' (Ed25519). */
  algorithm?: SigningAlgorithm;
  /** Default 5: how long past expiry verifiers may still accept a token (keeps old keys published that long). */
  clockToleranceSec?: number;
  /** Default DEFAULT_HASH_PARAMS (OWASP's scrypt minimum). Lower only in tests. */
  hashParams?: HashParams;
  /** Largest request body, bytes. Default 16384. */
  maxBodyBytes?: number;
  logger?: Logger;
}

export interface AuthServerTls {
  readonly cert: string;
  readonly key: string;
}

export const AUTH_SERVER_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 4455,
  audience: DEFAULT_TOKEN_AUDIENCE,
  accessTokenTtlSec: 900,
  refreshTokenTtlSec: 30 * 86_400,
  keyRotationIntervalSec: 86_400,
  algorithm: 'EdDSA' as SigningAlgorithm,
  clockToleranceSec: 5,
  maxBodyBytes: 16 * 1024,
});

export interface ResolvedAuthServerOptions {
  readonly store: AuthStore;
  readonly masterKey: Buffer;
  readonly issuer: string | undefined;
  readonly tls: AuthServerTls | undefined;
  readonly host: string;
  readonly port: number;
  readonly audience: string;
  readonly accessTokenTtlSec: number;
  readonly refreshTokenTtlSec: number;
  readonly keyRotationIntervalSec: number;
  readonly algorithm: SigningAlgorithm;
  readonly clockToleranceSec: number;
  readonly hashParams: HashParams;
  readonly maxBodyBytes: number;
  readonly logger: Logger | undefined;
}

function bad(option: string, problem: string): never {
  throw new InvalidOptionsError(`auth server option "${option}" ${problem}`, { details: { option } });
}

function int(options: AuthServerOptions, name: keyof typeof AUTH_SERVER_DEFAULTS, min: number, max = 10 ** 9): number {
  const v = (options as unknown as Record<string, unknown>)[name] ?? AUTH_SERVER_DEFAULTS[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    bad(name, `must be an integer in [${min}, ${max}]`);
  return v as number;
}

export function resolveAuthServerOptions(options: AuthServerOptions): Readonly<ResolvedAuthServerOptions> {
  if (typeof options !== 'object' || options === null) bad('options', 'must be an object');
  const store = options.store;
  if (!store || typeof store.putAccount !== 'function')
    bad('store', 'must be an AuthStore (EtcdAuthStore or MemoryAuthStore)');
  if (options.masterKey === undefined) bad('masterKey', 'is required (SWITCHYARD_AUTH_MASTER_KEY)');
  const masterKey = parseMasterKey(options.masterKey, 'masterKey');
  if (options.issuer !== undefined) {
    try {
      const u = new URL(options.issuer);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    } catch {
      bad('issuer', 'must be an http(s) URL');
    }
  }
  const tls = resolveTls(options.tls);
  const algorithm = options.algorithm ?? AUTH_SERVER_DEFAULTS.algorithm;
  if (!['EdDSA', 'ES256', 'RS256'].includes(algorithm)) bad('algorithm', 'must be EdDSA, ES256 or RS256');
  const accessTokenTtlSec = int(options, 'accessTokenTtlSec', 1, 86_400);
  const keyRotationIntervalSec = int(options, 'keyRotationIntervalSec', 60);
  return Object.freeze({
    store,
    masterKey,
    issuer: options.issuer?.replace(/\/$/, ''),
    tls,
    host: typeof options.host === 'string' && options.host !== '' ? options.host : AUTH_SERVER_DEFAULTS.host,
    port: int(options, 'port', 0, 65_535),
    audience: options.audience ?? AUTH_SERVER_DEFAULTS.audience,
    accessTokenTtlSec,
    refreshTokenTtlSec: int(options, 'refreshTokenTtlSec', 60),
    keyRotationIntervalSec,
    algorithm,
    clockToleranceSec: int(options, 'clockToleranceSec', 0, 300),
    hashParams: checkHashParams(options.hashParams ?? DEFAULT_HASH_PARAMS),
    maxBodyBytes: int(options, 'maxBodyBytes', 256, 1024 * 1024),
    logger: options.logger,
  });
}

function resolveTls(value: AuthServerTls | undefined): AuthServerTls | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) bad('tls', 'must be an object { cert, key } of PEM text');
  for (const [name, label] of [
    ['cert', 'CERTIFICATE'],
    ['key', 'PRIVATE KEY'],
  ] as const) {
    const pem = value[name];
    if (typeof pem !== 'string' || !pem.includes('-----BEGIN') || !pem.includes(label))
      bad(`tls.${name}`, `must be PEM text of a ${label.toLowerCase()}`);
  }
  // Fail at startup, not at the first handshake, when the key does not match the certificate.
  try {
    createSecureContext({ cert: value.cert, key: value.key });
  } catch (err) {
    bad('tls', `cert and key cannot be used together (${(err as Error).message})`);
  }
  return Object.freeze({ cert: value.cert, key: value.key });
}
