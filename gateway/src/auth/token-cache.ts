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
 * Bounded cache of successful verifications, keyed by the token, evicting like an LRU
 * (second chance / CLOCK: an entry used since it was last passed over is kept, the
 * oldest unused one goes). Signature checks cost ~70-140 µs in WebCrypto; a hit costs
 * one map lookup and a flag write, no re-insertion per hit. Only successes are cached:
 * a failure must be re-checked (it could be a clock-skew case that becomes valid).
 */
interface Slot<V> {
  readonly entry: CachedVerification<V>;
  used: boolean;
}

export class TokenCache<V> {
  readonly maxEntries: number;
  readonly maxTtlMs: number;
  // Map keeps insertion order: the first key is the oldest (or the longest passed over).
  readonly #entries = new Map<string, Slot<V>>();

  constructor(options: TokenCacheOptions = {}) {
    this.maxEntries = positiveInt('cache.maxEntries', options.maxEntries, TOKEN_CACHE_DEFAULTS.maxEntries);
    this.maxTtlMs = positiveInt('cache.maxTtlMs', options.maxTtlMs, TOKEN_CACHE_DEFAULTS.maxTtlMs);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The live entry for `key` at `now`, or undefined (expired entries are dropped). */
  get(key: string, now: number): CachedVerification<V> | undefined {
    const slot = this.#entries.get(key);
    if (slot === undefined) return undefined;
    const e = slot.entry;
    if (now >= e.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    // A clock that went backwards: do not serve, but keep (it becomes valid again).
    if (now < e.notBefore) return undefined;
    slot.used = true;
    return e;
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
    const entries = this.#entries;
    entries.delete(key);
    entries.set(key, { entry: { value, keyId, notBefore, expiresAt }, used: false });
    while (entries.size > this.maxEntries) {
      const [oldest, slot] = entries.entries().next().value as [string, Slot<V>];
      entries.delete(oldest);
      // Used since it was inserted or last passed over: a second chance at the back.
      if (slot.used && oldest !== key) {
        slot.used = false;
        entries.set(oldest, slot);
      }
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
