import { InvalidOptionsError, UnauthenticatedError, UnavailableError } from '@switchyard/broker';
import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { type Account, type AccountType, DEFAULT_TOKEN_AUDIENCE, TOKEN_CLAIM } from './account.js';

export interface TokenVerifierOptions {
  /** The issuer every token must name (`iss`), e.g. `http://auth:4455`. Required. */
  issuer: string;
  /** Default `<issuer>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Default 'switchyard'. */
  audience?: string;
  /** Default EdDSA, ES256, RS256: what the auth service signs with. `none` and HMAC are never accepted. */
  algorithms?: readonly string[];
  /** Skew allowed on exp/nbf/iat, seconds. Default 5. */
  clockToleranceSec?: number;
  /** Verified tokens kept (until their expiry). Default 10000. */
  cacheMaxEntries?: number;
  /** Minimum time between two JWKS refetches for an unknown `kid`, ms. Default 1000. */
  jwksCooldownMs?: number;
  /** A fetched JWKS is used this long before it is fetched again, ms. Default 300000. */
  jwksMaxAgeMs?: number;
  /** Timeout of one JWKS fetch, ms. Default 5000. */
  jwksTimeoutMs?: number;
}

export const TOKEN_VERIFIER_DEFAULTS = Object.freeze({
  audience: DEFAULT_TOKEN_AUDIENCE,
  algorithms: Object.freeze(['EdDSA', 'ES256', 'RS256']),
  clockToleranceSec: 5,
  cacheMaxEntries: 10_000,
  jwksCooldownMs: 1_000,
  jwksMaxAgeMs: 300_000,
  jwksTimeoutMs: 5_000,
});

const ALLOWED = new Set(['EdDSA', 'ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);

interface Verified {
  readonly account: Account;
  /** `exp`, ms since the epoch. */
  readonly expiresAt: number;
}

/**
 * Verifies Switchyard access tokens against the auth service's JWKS: signature (pinned
 * algorithms), `iss`, `aud`, `exp`. The JWKS is cached and fetched again at once (after
 * a short cooldown) when a token names an unknown `kid`, so a key rotation costs one
 * fetch, not a failed call. A verified token is cached until it expires: on the hot
 * path a call costs a map lookup, not a signature check (~100 µs with WebCrypto here).
 */
export class TokenVerifier {
  readonly issuer: string;
  readonly audience: string;
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;
  readonly #algorithms: string[];
  readonly #toleranceMs: number;
  readonly #max: number;
  readonly #cache = new Map<string, Verified>();

  constructor(options: TokenVerifierOptions) {
    const o = options ?? ({} as TokenVerifierOptions);
    const bad = (option: string, problem: string) =>
      new InvalidOptionsError(`TokenVerifier option "${option}" ${problem}`, { details: { option } });
    if (typeof o.issuer !== 'string' || o.issuer === '') throw bad('issuer', 'must be a non-empty string');
    let jwksUrl: URL;
    try {
      jwksUrl = new URL(o.jwksUrl ?? `${o.issuer.replace(/\/$/, '')}/.well-known/jwks.json`);
    } catch {
      throw bad('jwksUrl', 'must be a URL');
    }
    const algorithms = [...(o.algorithms ?? TOKEN_VERIFIER_DEFAULTS.algorithms)];
    if (algorithms.length === 0 || !algorithms.every((a) => ALLOWED.has(a))) {
      throw bad('algorithms', `must be a non-empty list of ${[...ALLOWED].join(', ')}`);
    }
    const num = (option: keyof typeof TOKEN_VERIFIER_DEFAULTS, min: number): number => {
      const v = (o as unknown as Record<string, unknown>)[option] ?? TOKEN_VERIFIER_DEFAULTS[option];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw bad(option, `must be a number >= ${min}`);
      return v;
    };
    this.issuer = o.issuer;
    this.audience = o.audience ?? TOKEN_VERIFIER_DEFAULTS.audience;
    this.#algorithms = algorithms;
    this.#toleranceMs = num('clockToleranceSec', 0) * 1000;
    this.#max = num('cacheMaxEntries', 0);
    this.#jwks = createRemoteJWKSet(jwksUrl, {
      cooldownDuration: num('jwksCooldownMs', 0),
      cacheMaxAge: num('jwksMaxAgeMs', 1),
      timeoutDuration: num('jwksTimeoutMs', 1),
    });
  }

  /**
   * The account a token speaks for. `graceSec` accepts a token that expired up to that
   * long ago (events that waited in a queue); calls use 0. Throws UNAUTHENTICATED with
   * `details.reason` (malformed_token, expired, bad_signature, unknown_kid, wrong_issuer,
   * wrong_audience, alg_not_allowed, invalid_claim), or UNAVAILABLE when the JWKS cannot
   * be fetched (not the token's fault).
   */
  async verify(token: string, graceSec = 0): Promise<Account> {
    return this.cached(token, graceSec) ?? this.#verifySlow(token, graceSec);
  }

  /**
   * The account of a token verified before and still valid, without a promise (the hot
   * path of every receiver); undefined when it must go through verify(). Throws
   * UNAUTHENTICATED (expired) for a cached token past its expiry.
   */
  cached(token: string, graceSec = 0): Account | undefined {
    const hit = this.#cache.get(token);
    if (hit === undefined) return undefined;
    if (Date.now() < hit.expiresAt + this.#toleranceMs + graceSec * 1000) return hit.account;
    throw unauthenticated('expired', 'token has expired');
  }

  async #verifySlow(token: string, graceSec: number): Promise<Account> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#jwks, {
        algorithms: this.#algorithms,
        issuer: this.issuer,
        audience: this.audience,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: this.#toleranceMs / 1000 + graceSec,
      }));
    } catch (err) {
      throw translate(err);
    }
    const account = toAccount(payload);
    if (this.#max > 0) {
      if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(token, { account, expiresAt: (payload.exp as number) * 1000 });
    }
    return account;
  }
}

function unauthenticated(reason: string, message: string) {
  return new UnauthenticatedError(message, { details: { reason } });
}

function toAccount(p: JWTPayload): Account {
  const type = p[TOKEN_CLAIM.accountType];
  if (type !== 'user' && type !== 'service') {
    throw unauthenticated('invalid_claim', `claim ${TOKEN_CLAIM.accountType} must be "user" or "service"`);
  }
  const scope = p[TOKEN_CLAIM.scope];
  if (scope !== undefined && typeof scope !== 'string')
    throw unauthenticated('invalid_claim', 'claim scope must be a string');
  const meta = p[TOKEN_CLAIM.metadata];
  const metadata: Record<string, string> = {};
  if (meta !== undefined) {
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
      throw unauthenticated('invalid_claim', 'claim metadata must be an object');
    }
    for (const [k, v] of Object.entries(meta)) if (typeof v === 'string') metadata[k] = v;
  }
  return Object.freeze({
    id: p.sub as string,
    type: type as AccountType,
    scopes: Object.freeze(scope === undefined || scope === '' ? [] : scope.split(' ').filter((s) => s !== '')),
    issuer: p.iss as string,
    metadata: Object.freeze(metadata),
  });
}

function translate(err: unknown) {
  if (err instanceof joseErrors.JWTExpired) return unauthenticated('expired', 'token has expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return unauthenticated('wrong_issuer', 'token was issued by someone else');
    if (err.claim === 'aud') return unauthenticated('wrong_audience', 'token is for another audience');
    if (err.claim === 'nbf') return unauthenticated('not_yet_valid', 'token is not valid yet');
    return unauthenticated('invalid_claim', `token claim ${err.claim} is invalid: ${err.reason}`);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return unauthenticated('bad_signature', 'token signature does not verify');
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return unauthenticated('unknown_kid', 'token was not signed by a key of the auth service');
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return unauthenticated('alg_not_allowed', 'token algorithm is not allowed');
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || isFetchFailure(err)) {
    return new UnavailableError('the auth service JWKS cannot be fetched: retry later', {
      cause: err,
      details: { reason: 'jwks_unavailable' },
    });
  }
  if (err instanceof joseErrors.JOSEError) return unauthenticated('malformed_token', 'token is malformed');
  return unauthenticated('malformed_token', 'token is malformed');
}

function isFetchFailure(err: unknown): boolean {
  return (
    err instanceof TypeError || (err instanceof Error && /fetch failed|ECONNREFUSED|Expected 200 OK/i.test(err.message))
  );
}
