import { ClosedError, InvalidOptionsError, isSwitchyardError, toSwitchyardError } from '@switchyard/broker';
import { errors, type JWTPayload, type JWTVerifyOptions, jwtVerify } from 'jose';
import { type JwsAlgorithm, parseAlgorithms } from './algorithms.js';
import { type AuthFailureReason, invalidToken } from './auth-errors.js';
import type { Identity } from './identity.js';
import type { KeySource } from './key-source.js';
import { scopesFromClaims } from './scopes.js';
import { TokenCache, type TokenCacheOptions, tokenCacheKey } from './token-cache.js';
import { DEFAULT_REALM } from './www-authenticate.js';

export interface JwtVerifierOptions {
  /** Where keys come from. The verifier owns it: start() and close() are passed on. */
  keySource: KeySource;
  /**
   * Allow-list pinned in every verification. Default: the key source's algorithms. Must be
   * a subset of them (an HS algorithm needs an HMAC secret, RS/PS/ES/EdDSA a public key);
   * `none` is refused.
   */
  algorithms?: JwsAlgorithm[];
  /** Accepted `iss` value(s). Default: not checked. */
  issuer?: string | string[];
  /** Accepted `aud` value(s); a token passes if one of its audiences is listed. Default: not checked. */
  audience?: string | string[];
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`. Default 5. */
  clockToleranceSec?: number;
  /** Claims a token must carry. Default `['exp']`: tokens that never expire are refused. */
  requiredClaims?: string[];
  /** Refuse tokens whose `iat` is older than this (seconds). Default: not checked. */
  maxTokenAgeSec?: number;
  /** Cache of verified tokens, or `false` to verify every time. Default `{}` (see TOKEN_CACHE_DEFAULTS). */
  cache?: TokenCacheOptions | false;
  /** `realm` of the `WWW-Authenticate` challenges. Default `switchyard`. */
  realm?: string;
  /** Milliseconds since the epoch. Default `Date.now`; injected by tests. */
  clock?: () => number;
}

export const JWT_VERIFIER_DEFAULTS = Object.freeze({
  clockToleranceSec: 5,
  requiredClaims: Object.freeze(['exp']),
  realm: DEFAULT_REALM,
});

/** Tokens longer than this are refused before any parsing (header limits are larger). */
const MAX_TOKEN_LENGTH = 16 * 1024;
// Printable ASCII: `sub` is forwarded in a header, where anything else could inject or break it.
const HEADER_SAFE = /^[\x20-\x7e]{1,1024}$/;

function invalidOption(option: string, message: string): never {
  throw new InvalidOptionsError(`${option} ${message}`, { details: { option } });
}

function stringList(option: string, value: unknown): string | string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string' && v !== '')) {
    invalidOption(option, 'must be a non-empty string or array of non-empty strings');
  }
  return typeof value === 'string' ? value : (Object.freeze([...list]) as string[]);
}

export interface VerifierStats {
  cacheSize: number;
  cacheHits: number;
  cacheMisses: number;
}

/**
 * Verifies bearer JWTs: pinned algorithms, keys from a KeySource, issuer / audience /
 * time claims, and a bounded cache of successful verifications. Every failure is an
 * UnauthenticatedError whose `details.wwwAuthenticate` is the RFC 6750 challenge, except
 * an unreachable key source (UnavailableError, 503) and use after close (ClosedError).
 */
export class JwtVerifier {
  readonly algorithms: readonly JwsAlgorithm[];
  readonly realm: string;
  readonly clockToleranceSec: number;
  readonly #keySource: KeySource;
  readonly #cache: TokenCache<Identity> | undefined;
  readonly #clock: () => number;
  readonly #options: Readonly<JWTVerifyOptions>;
  #started: Promise<void> | undefined;
  #closed = false;
  #hits = 0;
  #misses = 0;

  constructor(options: JwtVerifierOptions) {
    if (typeof options !== 'object' || options === null) invalidOption('options', 'must be an object');
    const ks = options.keySource;
    if (typeof ks !== 'object' || ks === null || typeof ks.resolve !== 'function' || !Array.isArray(ks.algorithms)) {
      invalidOption('keySource', 'must be a KeySource (StaticKeySource, JwksKeySource, ...)');
    }
    const algorithms =
      options.algorithms === undefined
        ? parseAlgorithms('keySource.algorithms', ks.algorithms)
        : parseAlgorithms('algorithms', options.algorithms);
    for (const alg of algorithms) {
      if (!ks.algorithms.includes(alg)) {
        invalidOption(
          'algorithms',
          `contains ${alg} but the key source has no key for it (it has: ${ks.algorithms.join(', ')}); ` +
            (alg.startsWith('HS') ? 'HS algorithms need an HMAC secret' : 'asymmetric algorithms need a public key'),
        );
      }
    }
    const tolerance = options.clockToleranceSec ?? JWT_VERIFIER_DEFAULTS.clockToleranceSec;
    if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) {
      invalidOption('clockToleranceSec', `must be a non-negative number of seconds, got ${JSON.stringify(tolerance)}`);
    }
    const required = options.requiredClaims ?? JWT_VERIFIER_DEFAULTS.requiredClaims;
    if (!Array.isArray(required) || !required.every((c) => typeof c === 'string' && c !== '')) {
      invalidOption('requiredClaims', 'must be an array of claim names');
    }
    const maxAge = options.maxTokenAgeSec;
    if (maxAge !== undefined && (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0)) {
      invalidOption('maxTokenAgeSec', `must be a positive number of seconds, got ${JSON.stringify(maxAge)}`);
    }
    const realm = options.realm ?? JWT_VERIFIER_DEFAULTS.realm;
    if (typeof realm !== 'string' || realm === '') invalidOption('realm', 'must be a non-empty string');
    if (options.clock !== undefined && typeof options.clock !== 'function')
      invalidOption('clock', 'must be a function');
    if (
      options.cache !== undefined &&
      options.cache !== false &&
      (typeof options.cache !== 'object' || options.cache === null)
    ) {
      invalidOption('cache', 'must be an options object or false');
    }

    this.algorithms = algorithms;
    this.realm = realm;
    this.clockToleranceSec = tolerance;
    this.#keySource = ks;
    this.#cache = options.cache === false ? undefined : new TokenCache<Identity>(options.cache ?? {});
    this.#clock = options.clock ?? Date.now;
    const jose: JWTVerifyOptions = {
      algorithms: [...algorithms],
      clockTolerance: tolerance,
      requiredClaims: [...required],
    };
    const issuer = stringList('issuer', options.issuer);
    const audience = stringList('audience', options.audience);
    if (issuer !== undefined) jose.issuer = issuer;
    if (audience !== undefined) jose.audience = audience;
    if (maxAge !== undefined) jose.maxTokenAge = maxAge;
    this.#options = Object.freeze(jose);
  }

  /** Start the key source (import keys, fetch the JWKS). Idempotent. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('verifier is closed'));
    // A failed start (JWKS down at boot) is retried by the next call, not remembered.
    this.#started ??= this.#keySource.start().catch((err: unknown) => {
      this.#started = undefined;
      throw err;
    });
    return this.#started;
  }

  /** Close the key source and forget cached verifications. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache?.clear();
    await this.#keySource.close();
  }

  get stats(): VerifierStats {
    return { cacheSize: this.#cache?.size ?? 0, cacheHits: this.#hits, cacheMisses: this.#misses };
  }

  /** Verify a compact JWT (without the `Bearer ` prefix) and return who it identifies. */
  async verify(token: string): Promise<Identity> {
    if (this.#closed) throw new ClosedError('verifier is closed');
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw invalidToken('malformed_token', 'token is malformed', this.realm);
    }
    const now = this.#clock();
    const cache = this.#cache;
    let cacheKey = '';
    if (cache !== undefined) {
      cacheKey = tokenCacheKey(token);
      const hit = cache.get(cacheKey, now);
      if (hit !== undefined) {
        if (this.#keySource.isKeyActive(hit.keyId)) {
          this.#hits++;
          return hit.value;
        }
        // Its key was rotated out: verify again (and fail with unknown_kid).
        cache.delete(cacheKey);
      }
      this.#misses++;
    }
    await this.start();

    let keyId = '';
    let payload: JWTPayload;
    try {
      const ks = this.#keySource;
      ({ payload } = await jwtVerify(
        token,
        async (header) => {
          const resolved = await ks.resolve(header);
          keyId = resolved.id;
          return resolved.key;
        },
        { ...this.#options, currentDate: new Date(now) },
      ));
    } catch (err) {
      throw this.#failure(err);
    }

    const sub = payload.sub;
    if (sub !== undefined && (typeof sub !== 'string' || !HEADER_SAFE.test(sub))) {
      throw invalidToken('invalid_claim', 'the "sub" claim must be printable ASCII text', this.realm);
    }
    const identity: Identity = Object.freeze({
      method: 'jwt',
      subject: sub,
      scopes: scopesFromClaims(payload),
      claims: Object.freeze(payload),
      token,
    });
    cache?.set(cacheKey, identity, keyId, payload, this.clockToleranceSec, now);
    return identity;
  }

  #failure(err: unknown) {
    if (isSwitchyardError(err)) {
      // A key source reports "no key fits" as UNAUTHENTICATED without our realm's challenge.
      if (err.code === 'UNAUTHENTICATED') {
        const reason = (err.details?.reason as AuthFailureReason | undefined) ?? 'unknown_kid';
        return invalidToken(reason, err.message, this.realm, err);
      }
      return err;
    }
    const [reason, description] = classify(err);
    if (reason === undefined) return toSwitchyardError(err);
    return invalidToken(reason, description, this.realm, err);
  }
}

/** Map a jose failure to our reason and a client-facing description (no internals). */
function classify(err: unknown): [AuthFailureReason | undefined, string] {
  if (err instanceof errors.JWTExpired) {
    return ['expired', err.claim === 'iat' ? 'token is too old' : 'token has expired'];
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return ['missing_claim', `token lacks the required "${err.claim}" claim`];
    if (err.reason === 'invalid') return ['invalid_claim', `the "${err.claim}" claim is invalid`];
    switch (err.claim) {
      case 'nbf':
        return ['not_yet_valid', 'token is not yet valid'];
      case 'iss':
        return ['wrong_issuer', 'token issuer is not accepted'];
      case 'aud':
        return ['wrong_audience', 'token audience is not accepted'];
      default:
        return ['invalid_claim', `the "${err.claim}" claim is invalid`];
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return ['alg_not_allowed', 'token algorithm is not allowed'];
  if (err instanceof errors.JWSSignatureVerificationFailed) return ['bad_signature', 'token signature is invalid'];
  if (err instanceof errors.JOSEError) return ['malformed_token', 'token is malformed'];
  return [undefined, ''];
}
