import { InvalidOptionsError } from '@switchyard/broker';

/**
 * JWS algorithms the gateway can verify. `none` is deliberately absent: it can never be
 * configured, so an unsigned token can never verify.
 */
export const JWS_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

/**
 * The kind of key material an algorithm needs. Every key is bound to one family and is
 * only ever used for algorithms of that family: this is what stops HS/RS key confusion
 * (an HS256 token "signed" with an RSA public key is looked up among HMAC secrets only).
 */
export type KeyFamily = 'hmac' | 'rsa' | 'ec' | 'okp';

const FAMILY: Record<JwsAlgorithm, KeyFamily> = {
  HS256: 'hmac',
  HS384: 'hmac',
  HS512: 'hmac',
  RS256: 'rsa',
  RS384: 'rsa',
  RS512: 'rsa',
  PS256: 'rsa',
  PS384: 'rsa',
  PS512: 'rsa',
  ES256: 'ec',
  ES384: 'ec',
  ES512: 'ec',
  EdDSA: 'okp',
  Ed25519: 'okp',
};

/** The EC curve each ES algorithm needs (RFC 7518 §3.4). */
export const EC_CURVE: Partial<Record<JwsAlgorithm, string>> = {
  ES256: 'P-256',
  ES384: 'P-384',
  ES512: 'P-521',
};

/** Hash per HMAC algorithm, for importing secrets into WebCrypto. */
export const HMAC_HASH: Partial<Record<JwsAlgorithm, string>> = {
  HS256: 'SHA-256',
  HS384: 'SHA-384',
  HS512: 'SHA-512',
};

const known = new Set<string>(JWS_ALGORITHMS);

export function isJwsAlgorithm(value: unknown): value is JwsAlgorithm {
  return typeof value === 'string' && known.has(value);
}

export function familyOf(alg: JwsAlgorithm): KeyFamily {
  return FAMILY[alg];
}

export function isHmac(alg: JwsAlgorithm): boolean {
  return FAMILY[alg] === 'hmac';
}

/**
 * Validate an algorithm allow-list given as option `name`: a non-empty array of known
 * algorithms, never `none`. Returns a frozen, de-duplicated copy.
 */
export function parseAlgorithms(name: string, value: unknown): readonly JwsAlgorithm[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidOptionsError(`${name} must be a non-empty array of JWS algorithms`, { details: { option: name } });
  }
  for (const alg of value) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
      throw new InvalidOptionsError(`${name} must not contain "none": unsigned tokens are never accepted`, {
        details: { option: name },
      });
    }
    if (!isJwsAlgorithm(alg)) {
      throw new InvalidOptionsError(
        `${name} contains unsupported algorithm ${JSON.stringify(alg)}; supported: ${JWS_ALGORITHMS.join(', ')}`,
        { details: { option: name } },
      );
    }
  }
  return Object.freeze([...new Set(value as JwsAlgorithm[])]);
}
