import { type SwitchyardError, UnauthenticatedError } from '@switchyard/broker';
import type { CryptoKey, JWSHeaderParameters } from 'jose';
import type { JwsAlgorithm } from './algorithms.js';

/** A verification key picked for one token. */
export interface ResolvedKey {
  /**
   * Stable id of the key (its `kid`, or a generated one for static keys without a kid).
   * Verified tokens are cached with it so that a key's removal can invalidate them.
   */
  readonly id: string;
  /** Imported once; never raw key material (no per-request import). */
  readonly key: CryptoKey;
}

/**
 * Where verification keys come from. Implementations: StaticKeySource (PEM / JWK / HMAC
 * secret given in configuration) and JwksKeySource (a remote JWKS with caching and
 * rotation). The verifier owns its key source: it starts and closes it.
 */
export interface KeySource {
  /** Algorithms this source has keys for; a verifier's allow-list must be a subset. */
  readonly algorithms: readonly JwsAlgorithm[];
  /** Import / fetch keys ahead of the first request. Idempotent. */
  start(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
  /**
   * The key for a token's protected header. `header.alg` has already been checked against
   * the verifier's allow-list. A key is only returned for an algorithm of its own family.
   * Throws UnauthenticatedError (details.reason `unknown_kid`, `alg_not_allowed`) when no key
   * fits, UnavailableError when the source itself cannot be reached.
   */
  resolve(header: JWSHeaderParameters): Promise<ResolvedKey>;
  /**
   * False once the key with this id has been removed from the source (rotation,
   * revocation): cached verifications made with it are then dropped. Cheap: called on
   * every token-cache hit.
   */
  isKeyActive(id: string): boolean;
}

/**
 * The error a KeySource throws when no key fits a token. The verifier re-issues it with
 * its realm's `WWW-Authenticate` challenge; only `details.reason` and the message matter.
 */
export function noKeyFor(reason: 'unknown_kid' | 'alg_not_allowed', message: string): SwitchyardError {
  return new UnauthenticatedError(message, { details: { reason } });
}
