import { InvalidOptionsError } from '@switchyard/broker';

export interface TokenCacheOptions {
  /** Most verified tokens kept; the least recently used is evicted beyond it. Default 10 000. */
  maxEntries?: number;
  /**
   * Longest a verification is reused (ms), whatever the token's `exp`. Default 60 000.
   * It bounds how long a token stays accepted after its signing key is revoked when the
   * revocation is not seen through the key source (e.g. a JWKS not yet refetched).
   */
  maxTtlMs?: number;
}

export const TOKEN_CACHE_DEFAULTS = Object.freeze({ maxEntries: 10_000, maxTtlMs: 60_000 });

export interface CachedVerification<V> {
  readonly value: V;
  /** The id of the key that verified the token (see KeySource.isKeyActive). */
  readonly keyId: string;
  /** Not served before this instant (ms since epoch): the token's `nbf` minus clock tolerance. */
  readonly notBefore: number;
  /** Not served from this instant on: min(`exp` plus clock tolerance, cached at + maxTtlMs). */
  readonly expiresAt: number;
}

/**
 * Cache key of a token: the whole compact JWT itself. The whole token, not just its
 * signature segment: a forged token could reuse a real signature with another payload.
 * Not hashed: a SHA-256 per request cost more than the rest of a cache hit, and the token
 * sits in the request's headers (and so in memory) anyway.
 */
export function tokenCacheKey(token: string): string {
  return token;
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidOptionsError(`${name} must be a positive integer, got ${JSON.stringify(value)}`, {
      details: { option: name },
    });
  }
  return value;
}

/**
 * Bounded LRU of successful verifications, keyed by the token. Signature checks cost
 * ~70-140 µs in WebCrypto; a hit costs a map lookup. Only successes are
 * cached: a failure must be re-checked (it could be a clock-skew case that becomes valid).
 */
export class TokenCache<V> {
  readonly maxEntries: number;
  readonly maxTtlMs: number;
  // Map keeps insertion order: re-inserting on a hit makes the first key the LRU one.
  readonly #entries = new Map<string, CachedVerification<V>>();

  constructor(options: TokenCacheOptions = {}) {
    this.maxEntries = positiveInt('cache.maxEntries', options.maxEntries, TOKEN_CACHE_DEFAULTS.maxEntries);
    this.maxTtlMs = positiveInt('cache.maxTtlMs', options.maxTtlMs, TOKEN_CACHE_DEFAULTS.maxTtlMs);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The live entry for `key` at `now`, or undefined (expired entries are dropped). */
  get(key: string, now: number): CachedVerification<V> | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    this.#entries.delete(key);
    if (now >= e.expiresAt) return undefined;
    this.#entries.set(key, e);
    // A clock that went backwards: do not serve, but keep (it becomes valid again).
    return now < e.notBefore ? undefined : e;
  }

  /**
   * Remember a verification. `exp`/`nbf` are the token's claims in seconds (undefined when
   * absent); `toleranceSec` is the verifier's clock tolerance.
   */
  set(
    key: string,
    value: V,
    keyId: string,
    claims: { exp?: number | undefined; nbf?: number | undefined },
    toleranceSec: number,
    now: number,
  ): void {
    const cap = now + this.maxTtlMs;
    const expiresAt = claims.exp === undefined ? cap : Math.min(cap, (claims.exp + toleranceSec) * 1000);
    if (expiresAt <= now) return;
    const notBefore = claims.nbf === undefined ? Number.NEGATIVE_INFINITY : (claims.nbf - toleranceSec) * 1000;
    this.#entries.delete(key);
    this.#entries.set(key, { value, keyId, notBefore, expiresAt });
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
