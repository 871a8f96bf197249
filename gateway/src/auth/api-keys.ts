import { createHash, timingSafeEqual } from 'node:crypto';
import { InvalidOptionsError } from '@switchyard/broker';
import type { Identity } from './identity.js';
import { isScopeToken } from './scopes.js';

/** One API key. Give `key` (the secret itself) or `sha256` (its hex digest, to keep secrets out of config). */
export interface ApiKeyEntry {
  /** Public label of the key (logs, `client_id` claim). Unique. */
  id: string;
  /** The key as clients send it; at least 16 characters. */
  key?: string;
  /** Hex SHA-256 of the key (`printf %s "$KEY" | sha256sum`). */
  sha256?: string;
  /** The subject requests with this key act as. */
  subject: string;
  scopes?: string[];
}

export interface ApiKeyStoreOptions {
  keys: ApiKeyEntry[];
  /** Request header carrying the key. Default `x-api-key`. */
  header?: string;
}

export const API_KEY_DEFAULTS = Object.freeze({ header: 'x-api-key' });
const MIN_KEY_LENGTH = 16;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const HEADER_SAFE = /^[\x20-\x7e]{1,1024}$/;

function invalid(option: string, message: string): never {
  throw new InvalidOptionsError(`${option} ${message}`, { details: { option } });
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/**
 * Static API keys mapping to a subject and scopes. Only SHA-256 digests are held. A
 * presented key is hashed, looked up by digest and confirmed with timingSafeEqual; the
 * lookup's timing depends only on the digest, which an attacker cannot steer toward a
 * stored one, so it leaks nothing about stored keys.
 */
export class ApiKeyStore {
  readonly header: string;
  readonly #byDigest = new Map<string, { digest: Buffer; identity: Identity }>();

  constructor(options: ApiKeyStoreOptions) {
    if (typeof options !== 'object' || options === null) invalid('apiKeys', 'must be an object');
    const header = options.header ?? API_KEY_DEFAULTS.header;
    if (
      typeof header !== 'string' ||
      !HEADER_NAME.test(header.toLowerCase()) ||
      header.toLowerCase() === 'authorization'
    ) {
      invalid('apiKeys.header', `must be a header name other than authorization, got ${JSON.stringify(header)}`);
    }
    this.header = header.toLowerCase();
    if (!Array.isArray(options.keys) || options.keys.length === 0) invalid('apiKeys.keys', 'must be a non-empty array');
    const ids = new Set<string>();
    for (const [i, entry] of options.keys.entries()) {
      const at = `apiKeys.keys[${i}]`;
      if (typeof entry !== 'object' || entry === null) invalid(at, 'must be an object');
      if (typeof entry.id !== 'string' || !HEADER_SAFE.test(entry.id))
        invalid(`${at}.id`, 'must be printable ASCII text');
      if (ids.has(entry.id)) invalid(`${at}.id`, `duplicates id "${entry.id}"`);
      ids.add(entry.id);
      if (typeof entry.subject !== 'string' || !HEADER_SAFE.test(entry.subject)) {
        invalid(`${at}.subject`, 'must be printable ASCII text');
      }
      const scopes = entry.scopes ?? [];
      if (!Array.isArray(scopes) || !scopes.every(isScopeToken)) {
        invalid(`${at}.scopes`, 'must be an array of scopes (no spaces or quotes)');
      }
      let d: Buffer;
      if ((entry.key === undefined) === (entry.sha256 === undefined)) invalid(at, 'needs exactly one of key, sha256');
      if (entry.key !== undefined) {
        if (typeof entry.key !== 'string' || entry.key.length < MIN_KEY_LENGTH) {
          invalid(`${at}.key`, `must be a string of at least ${MIN_KEY_LENGTH} characters`);
        }
        d = digest(entry.key);
      } else {
        if (typeof entry.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(entry.sha256)) {
          invalid(`${at}.sha256`, 'must be 64 hex digits');
        }
        d = Buffer.from(entry.sha256, 'hex');
      }
      const hex = d.toString('hex');
      if (this.#byDigest.has(hex)) invalid(`${at}`, 'has the same key as another entry');
      const identity: Identity = Object.freeze({
        method: 'api-key',
        subject: entry.subject,
        scopes: Object.freeze([...new Set(scopes)]),
        claims: Object.freeze({ sub: entry.subject, client_id: entry.id }),
      });
      this.#byDigest.set(hex, { digest: d, identity });
    }
  }

  /** The identity of a presented key, or undefined when it is not a known key. */
  lookup(presented: string): Identity | undefined {
    if (typeof presented !== 'string' || presented.length === 0 || presented.length > 4096) return undefined;
    const d = digest(presented);
    const entry = this.#byDigest.get(d.toString('hex'));
    return entry !== undefined && timingSafeEqual(entry.digest, d) ? entry.identity : undefined;
  }
}
