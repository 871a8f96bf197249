import { ClosedError, InvalidOptionsError, type SwitchyardError, UnavailableError } from '@switchyard/broker';
import {
  type CryptoKey,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  jwksCache,
  type RemoteJWKSet,
} from 'jose';
import { isHmac, type JwsAlgorithm, parseAlgorithms } from './algorithms.js';
import { type KeySource, noKeyFor, type ResolvedKey } from './key-source.js';

export interface JwksKeySourceOptions {
  /** The issuer's JWKS endpoint (http or https). */
  url: string | URL;
  /** Asymmetric algorithms accepted from this set. Default `['RS256']`. HS algorithms are refused. */
  algorithms?: JwsAlgorithm[];
  /**
   * How long a fetched key set is used before it is fetched again (ms). Default 600 000
   * (10 min, jose's default). It bounds how long a key removed from the JWKS keeps
   * verifying tokens.
   */
  cacheMaxAgeMs?: number;
  /**
   * After a fetch, a token with an unknown `kid` does not trigger another fetch for this
   * long (ms): it stops unknown-kid floods from hammering the issuer. Default 30 000.
   * A newly rotated-in key is picked up at most this long after the previous fetch.
   */
  cooldownMs?: number;
  /** Fetch timeout (ms). Default 5 000. */
  timeoutMs?: number;
  /** Extra request headers for the JWKS fetch. */
  headers?: Record<string, string>;
}

export const JWKS_DEFAULTS = Object.freeze({
  algorithms: Object.freeze(['RS256'] as JwsAlgorithm[]),
  cacheMaxAgeMs: 600_000,
  cooldownMs: 30_000,
  timeoutMs: 5_000,
});

function duration(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidOptionsError(`${name} must be a non-negative integer (ms), got ${JSON.stringify(value)}`, {
      details: { option: name },
    });
  }
  return value;
}

// A kid-less token's key cannot be told apart across rotations; its cache entries live
// until the token cache's TTL cap.
const NO_KID = '';

/**
 * Keys from a remote JWKS (jose `createRemoteJWKSet`): fetched lazily or at start(),
 * cached for `cacheMaxAgeMs`, refetched on an unknown kid once `cooldownMs` has passed.
 * After every fetch the set of live kids is recomputed so that `isKeyActive` reports a
 * key removed from the set, and the verifier drops tokens it cached with that key.
 */
export class JwksKeySource implements KeySource {
  readonly algorithms: readonly JwsAlgorithm[];
  readonly url: URL;
  readonly #remote: RemoteJWKSet;
  // jose writes every successful fetch here ({ uat, jwks }); comparing `uat` tells us
  // cheaply that the set changed, without wrapping fetch.
  readonly #fetched: { uat?: number; jwks?: JSONWebKeySet } = {};
  #seenUat: number | undefined;
  #kids: ReadonlySet<string> = new Set();
  #closed = false;

  constructor(options: JwksKeySourceOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionsError('options must be an object', { details: { option: 'options' } });
    }
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (cause) {
      throw new InvalidOptionsError('url is not a valid URL', { details: { option: 'url' }, cause });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new InvalidOptionsError('url must be an http:// or https:// URL', { details: { option: 'url' } });
    }
    const algorithms =
      options.algorithms === undefined ? JWKS_DEFAULTS.algorithms : parseAlgorithms('algorithms', options.algorithms);
    const hs = algorithms.find(isHmac);
    if (hs) {
      throw new InvalidOptionsError(`algorithms contains ${hs}: a JWKS holds public keys, HMAC secrets never`, {
        details: { option: 'algorithms' },
      });
    }
    if (options.headers !== undefined && (typeof options.headers !== 'object' || options.headers === null)) {
      throw new InvalidOptionsError('headers must be an object of strings', { details: { option: 'headers' } });
    }
    this.url = url;
    this.algorithms = algorithms;
    this.#remote = createRemoteJWKSet(url, {
      cacheMaxAge: duration('cacheMaxAgeMs', options.cacheMaxAgeMs, JWKS_DEFAULTS.cacheMaxAgeMs),
      cooldownDuration: duration('cooldownMs', options.cooldownMs, JWKS_DEFAULTS.cooldownMs),
      timeoutDuration: duration('timeoutMs', options.timeoutMs, JWKS_DEFAULTS.timeoutMs),
      headers: { ...options.headers },
      [jwksCache]: this.#fetched as Record<string, never>,
    });
  }

  /** Fetch the key set now, so the first request does not wait for it (and a bad URL shows at boot). */
  async start(): Promise<void> {
    if (this.#closed) throw new ClosedError('key source is closed');
    if (this.#fetched.uat === undefined) await this.reload();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Fetch the key set now, regardless of cache age and cooldown. */
  async reload(): Promise<void> {
    try {
      await this.#remote.reload();
    } catch (cause) {
      throw this.#unavailable(cause);
    }
    this.#noteFetch();
  }

  /** The kids of the key set last fetched. */
  get kids(): ReadonlySet<string> {
    return this.#kids;
  }

  async resolve(header: JWSHeaderParameters): Promise<ResolvedKey> {
    if (this.#closed) throw new ClosedError('key source is closed');
    let key: CryptoKey;
    try {
      key = await this.#remote(header);
    } catch (cause) {
      this.#noteFetch();
      if (cause instanceof errors.JWKSNoMatchingKey) {
        throw noKeyFor(
          'unknown_kid',
          header.kid === undefined ? `no key in the key set accepts ${header.alg}` : `unknown kid "${header.kid}"`,
        );
      }
      if (cause instanceof errors.JWKSMultipleMatchingKeys) {
        throw noKeyFor('unknown_kid', `token has no kid and several keys accept ${header.alg}`);
      }
      if (cause instanceof errors.JOSENotSupported) {
        throw noKeyFor('alg_not_allowed', `${header.alg} is not accepted from the key set`);
      }
      throw this.#unavailable(cause);
    }
    this.#noteFetch();
    return { id: header.kid ?? NO_KID, key };
  }

  isKeyActive(id: string): boolean {
    return id === NO_KID || this.#kids.has(id);
  }

  #noteFetch(): void {
    const { uat, jwks } = this.#fetched;
    if (uat === this.#seenUat || jwks === undefined) return;
    this.#seenUat = uat;
    const kids = new Set<string>();
    for (const k of jwks.keys) if (typeof k.kid === 'string') kids.add(k.kid);
    this.#kids = kids;
  }

  // The issuer being down or serving junk is not the client's fault: 503, not 401, so
  // clients do not throw away good tokens.
  #unavailable(cause: unknown): SwitchyardError {
    return new UnavailableError('the key set (JWKS) could not be fetched', {
      details: { jwks: this.url.href },
      cause,
    });
  }
}
