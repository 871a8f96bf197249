import { createPublicKey, type JsonWebKey as NodeJwk } from 'node:crypto';
import { ClosedError, InvalidOptionsError } from '@switchyard/broker';
import { type CryptoKey, importJWK, type JWK, type JWSHeaderParameters } from 'jose';
import {
  EC_CURVE,
  familyOf,
  HMAC_HASH,
  isJwsAlgorithm,
  type JwsAlgorithm,
  type KeyFamily,
  parseAlgorithms,
} from './algorithms.js';
import { type KeySource, noKeyFor, type ResolvedKey } from './key-source.js';

/** An HMAC secret (HS256/384/512). At least as many bytes as the hash (32 for HS256). */
export interface SecretKeyConfig {
  type: 'secret';
  kid?: string;
  /** A string is taken as UTF-8 bytes. */
  secret: string | Uint8Array;
  /** Default `['HS256']`. Only HS algorithms: a secret is never used for RS/ES/EdDSA. */
  algorithms?: JwsAlgorithm[];
}

/** A public key (SPKI `BEGIN PUBLIC KEY`) or an X.509 certificate, PEM-encoded. */
export interface PemKeyConfig {
  type: 'pem';
  kid?: string;
  pem: string;
  /** Default by key type: RSA `['RS256']`, EC the curve's ES algorithm, Ed25519 `['EdDSA']`. */
  algorithms?: JwsAlgorithm[];
}

/** A JSON Web Key: public RSA / EC / OKP key, or an `oct` HMAC secret. */
export interface JwkKeyConfig {
  type: 'jwk';
  /** Default: the JWK's own `kid`. */
  kid?: string;
  jwk: JWK;
  /** Default: the JWK's `alg`, else as for PEM keys (`oct`: `['HS256']`). */
  algorithms?: JwsAlgorithm[];
}

export type StaticKeyConfig = SecretKeyConfig | PemKeyConfig | JwkKeyConfig;

export interface StaticKeySourceOptions {
  /** One or more keys. Keys without `kid` must not share an algorithm (tokens could not pick one). */
  keys: StaticKeyConfig[];
}

/** A validated key, ready to import. */
interface KeyPlan {
  id: string;
  /** The configured kid; undefined when the id was generated. */
  kid: string | undefined;
  family: KeyFamily;
  algorithms: readonly JwsAlgorithm[];
  /** HMAC secret bytes, or a public JWK stripped to its key members. */
  material: Uint8Array | JWK;
  option: string;
}

const MIN_RSA_BITS = 2048;

function fail(option: string, message: string): never {
  throw new InvalidOptionsError(`${option} ${message}`, { details: { option } });
}

function publicMembers(jwk: JWK, option: string): { family: KeyFamily; jwk: JWK } {
  if (jwk.d !== undefined || jwk.p !== undefined) fail(option, 'is a private key; give the public key only');
  if (jwk.use !== undefined && jwk.use !== 'sig') fail(option, `has use "${jwk.use}", not "sig"`);
  switch (jwk.kty) {
    case 'RSA': {
      if (typeof jwk.n !== 'string' || typeof jwk.e !== 'string') fail(option, 'is an RSA JWK without n/e');
      const bits = Buffer.from(jwk.n, 'base64url').length * 8;
      if (bits < MIN_RSA_BITS) fail(option, `is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`);
      return { family: 'rsa', jwk: { kty: 'RSA', n: jwk.n, e: jwk.e } };
    }
    case 'EC':
      if (typeof jwk.crv !== 'string' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
        fail(option, 'is an EC JWK without crv/x/y');
      }
      return { family: 'ec', jwk: { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y } };
    case 'OKP':
      if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') fail(option, 'is an OKP JWK that is not Ed25519');
      return { family: 'okp', jwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x } };
    default:
      return fail(option, `has unsupported kty ${JSON.stringify(jwk.kty)}`);
  }
}

function defaultAlgorithms(family: KeyFamily, jwk: JWK | undefined, option: string): JwsAlgorithm[] {
  if (jwk?.alg !== undefined) {
    if (!isJwsAlgorithm(jwk.alg)) fail(`${option}.alg`, `is not a supported algorithm: ${JSON.stringify(jwk.alg)}`);
    return [jwk.alg];
  }
  switch (family) {
    case 'hmac':
      return ['HS256'];
    case 'rsa':
      return ['RS256'];
    case 'okp':
      return ['EdDSA'];
    case 'ec': {
      const alg = (Object.keys(EC_CURVE) as JwsAlgorithm[]).find((a) => EC_CURVE[a] === jwk?.crv);
      if (!alg) fail(option, `has unsupported EC curve ${JSON.stringify(jwk?.crv)}`);
      return [alg];
    }
  }
}

function checkAlgorithms(plan: Omit<KeyPlan, 'algorithms'>, algs: readonly JwsAlgorithm[], jwk: JWK | undefined) {
  const option = `${plan.option}.algorithms`;
  for (const alg of algs) {
    const family = familyOf(alg);
    if (family !== plan.family) {
      // The two confusions the brief names explicitly get explicit messages.
      if (family === 'hmac') fail(option, `contains ${alg}, which needs a secret, but this key is a public key`);
      if (plan.family === 'hmac') fail(option, `contains ${alg}, which needs a public key, but this key is a secret`);
      fail(option, `contains ${alg}, which does not fit a ${plan.family.toUpperCase()} key`);
    }
    if (family === 'ec' && jwk?.crv !== EC_CURVE[alg])
      fail(option, `contains ${alg}, which needs curve ${EC_CURVE[alg]}`);
    if (jwk?.alg !== undefined && jwk.alg !== alg) fail(option, `contains ${alg}, but the JWK is pinned to ${jwk.alg}`);
    if (family === 'hmac') {
      const min = Number(HMAC_HASH[alg]!.slice(4)) / 8;
      if ((plan.material as Uint8Array).length < min) {
        fail(plan.option, `secret must be at least ${min} bytes for ${alg}`);
      }
    }
  }
}

function planKey(config: StaticKeyConfig, index: number): KeyPlan {
  const option = `keys[${index}]`;
  if (typeof config !== 'object' || config === null) fail(option, 'must be an object');
  if (config.kid !== undefined && (typeof config.kid !== 'string' || config.kid === '')) {
    fail(`${option}.kid`, 'must be a non-empty string');
  }
  let family: KeyFamily;
  let material: Uint8Array | JWK;
  let jwk: JWK | undefined;
  let kid = config.kid;
  switch (config.type) {
    case 'secret': {
      const s = config.secret;
      if (typeof s === 'string') material = new Uint8Array(Buffer.from(s, 'utf8'));
      else if (s instanceof Uint8Array) material = new Uint8Array(s);
      else fail(`${option}.secret`, 'must be a string or a Uint8Array');
      family = 'hmac';
      break;
    }
    case 'pem': {
      if (typeof config.pem !== 'string') fail(`${option}.pem`, 'must be a PEM string');
      if (/PRIVATE KEY-----/.test(config.pem)) fail(`${option}.pem`, 'is a private key; give the public key only');
      let exported: NodeJwk;
      try {
        exported = createPublicKey(config.pem).export({ format: 'jwk' });
      } catch (cause) {
        throw new InvalidOptionsError(`${option}.pem is not a public key or certificate PEM`, {
          details: { option: `${option}.pem` },
          cause,
        });
      }
      ({ family, jwk } = publicMembers(exported as JWK, `${option}.pem`));
      material = jwk;
      break;
    }
    case 'jwk': {
      const given = config.jwk;
      if (typeof given !== 'object' || given === null) fail(`${option}.jwk`, 'must be a JWK object');
      kid ??= given.kid;
      if (given.kty === 'oct') {
        if (typeof given.k !== 'string') fail(`${option}.jwk`, 'is an oct JWK without k');
        family = 'hmac';
        material = new Uint8Array(Buffer.from(given.k, 'base64url'));
        jwk = given.alg === undefined ? undefined : { kty: 'oct', alg: given.alg };
      } else {
        ({ family, jwk } = publicMembers(given, `${option}.jwk`));
        material = jwk;
        if (given.alg !== undefined) jwk.alg = given.alg;
      }
      break;
    }
    default:
      return fail(
        `${option}.type`,
        `must be "secret", "pem" or "jwk", got ${JSON.stringify((config as { type: unknown }).type)}`,
      );
  }
  const base = { id: kid ?? `static-${index}`, kid, family, material, option };
  const algorithms =
    config.algorithms === undefined
      ? defaultAlgorithms(family, jwk, option)
      : parseAlgorithms(`${option}.algorithms`, config.algorithms);
  checkAlgorithms(base, algorithms, jwk);
  return { ...base, algorithms: Object.freeze([...algorithms]) };
}

async function importFor(plan: KeyPlan, alg: JwsAlgorithm): Promise<CryptoKey> {
  if (plan.family === 'hmac') {
    return crypto.subtle.importKey(
      'raw',
      plan.material as Uint8Array<ArrayBuffer>,
      { name: 'HMAC', hash: HMAC_HASH[alg]! },
      false,
      ['verify'],
    );
  }
  const { alg: _pinned, ...jwk } = plan.material as JWK;
  return (await importJWK(jwk, alg)) as CryptoKey;
}

/**
 * Keys given in configuration. Each key is bound to its algorithm family and imported
 * once per allowed algorithm as a non-extractable CryptoKey at start(); a token's `alg`
 * only ever selects among keys of that family, so a public key's bytes are never used
 * as an HMAC secret.
 */
export class StaticKeySource implements KeySource {
  readonly algorithms: readonly JwsAlgorithm[];
  readonly #plans: readonly KeyPlan[];
  #imported: Promise<Map<string, CryptoKey>> | undefined;
  #closed = false;

  constructor(options: StaticKeySourceOptions) {
    if (typeof options !== 'object' || options === null) fail('options', 'must be an object');
    if (!Array.isArray(options.keys) || options.keys.length === 0) fail('keys', 'must be a non-empty array');
    const plans = options.keys.map(planKey);
    const kids = new Set<string>();
    const kidless = new Map<JwsAlgorithm, string>();
    for (const p of plans) {
      if (p.kid !== undefined) {
        if (kids.has(p.kid)) fail(`${p.option}.kid`, `duplicates kid "${p.kid}"`);
        kids.add(p.kid);
      } else {
        for (const alg of p.algorithms) {
          const other = kidless.get(alg);
          if (other) fail(p.option, `and ${other} both accept ${alg} without a kid; give them kids`);
          kidless.set(alg, p.option);
        }
      }
    }
    this.#plans = Object.freeze(plans);
    this.algorithms = Object.freeze([...new Set(plans.flatMap((p) => p.algorithms))]);
  }

  start(): Promise<void> {
    return this.#keys().then(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #keys(): Promise<Map<string, CryptoKey>> {
    if (this.#closed) return Promise.reject(new ClosedError('key source is closed'));
    this.#imported ??= (async () => {
      const out = new Map<string, CryptoKey>();
      for (const [i, plan] of this.#plans.entries()) {
        for (const alg of plan.algorithms) {
          try {
            out.set(`${i}:${alg}`, await importFor(plan, alg));
          } catch (cause) {
            throw new InvalidOptionsError(`${plan.option} cannot be imported for ${alg}`, {
              details: { option: plan.option },
              cause,
            });
          }
        }
      }
      return out;
    })();
    return this.#imported;
  }

  async resolve(header: JWSHeaderParameters): Promise<ResolvedKey> {
    const keys = await this.#keys();
    const alg = header.alg as JwsAlgorithm;
    const index = this.#pick(alg, header.kid);
    return { id: this.#plans[index]!.id, key: keys.get(`${index}:${alg}`)! };
  }

  #pick(alg: JwsAlgorithm, kid: string | undefined): number {
    const plans = this.#plans;
    let kidless = -1;
    let fitting = -1;
    let count = 0;
    for (let i = 0; i < plans.length; i++) {
      const p = plans[i]!;
      const fits = p.algorithms.includes(alg);
      if (kid !== undefined && p.kid === kid) {
        if (fits) return i;
        throw noKeyFor('alg_not_allowed', `key "${kid}" does not accept ${alg}`);
      }
      if (!fits) continue;
      count++;
      fitting = i;
      if (p.kid === undefined) kidless = i;
    }
    // A token naming a kid we do not have may still be meant for the one key configured
    // without a kid (issuers often set kids the operator did not copy).
    if (kidless >= 0) return kidless;
    if (kid === undefined && count === 1) return fitting;
    if (kid !== undefined) throw noKeyFor('unknown_kid', `no key with kid "${kid}" accepts ${alg}`);
    throw noKeyFor(
      'unknown_kid',
      count === 0 ? `no key accepts ${alg}` : `token has no kid and ${count} keys accept ${alg}`,
    );
  }

  isKeyActive(_id: string): boolean {
    return true;
  }
}
