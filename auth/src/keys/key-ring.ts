import { randomBytes } from 'node:crypto';
import { UnavailableError } from '@switchyard/broker';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Logger } from 'pino';
import type { AuthStore, KeyRecord } from '../store/auth-store.js';
import { decryptPrivateKey, encryptPrivateKey } from './key-encryption.js';

export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256';

/**
 * Store a new signing key (it signs from the moment every ring has reloaded). Used by the
 * ring's rotation and by `switchyard auth keys rotate`, which writes to the same store.
 * Refuses a master key that cannot open the keys already stored: a key nobody can
 * decrypt would stop every auth replica from loading its keys.
 */
export async function addSigningKey(store: AuthStore, masterKey: Buffer, algorithm: SigningAlgorithm): Promise<string> {
  const existing = await store.listKeys();
  const probe = existing[0];
  if (probe) decryptPrivateKey(masterKey, probe.kid, probe.encryptedPrivateKey);
  const kid = `${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(6).toString('base64url')}`;
  const pair = await generateKeyPair(algorithm, {
    extractable: true,
    ...(algorithm === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: algorithm, use: 'sig' };
  const privateJwk = await exportJWK(pair.privateKey);
  await store.putKey({
    kid,
    alg: algorithm,
    publicJwk,
    encryptedPrivateKey: encryptPrivateKey(masterKey, kid, JSON.stringify(privateJwk)),
    createdAt: Date.now(),
  });
  return kid;
}

export interface KeyRingOptions {
  store: AuthStore;
  masterKey: Buffer;
  algorithm: SigningAlgorithm;
  /** A key signs for this long before a new one takes over, s. */
  rotationIntervalSec: number;
  /** Lifetime of access tokens, s: an old key stays published this long (plus tolerance) after it stopped signing. */
  accessTokenTtlSec: number;
  clockToleranceSec: number;
  logger: Logger;
}

interface LiveKey {
  readonly record: KeyRecord;
  /** Imported once; never leaves this process. */
  readonly privateKey: CryptoKey;
  /** When the last token it can have signed expires (ms); Infinity for the current key. */
  readonly retireAt: number;
}

/**
 * The signing keys: the newest one signs, older ones stay in the JWKS until every token
 * they signed has expired (the next key's creation + access-token TTL + tolerance), then
 * leave it and the store. Rotation happens on schedule and on command, by any replica or
 * the CLI: every ring reloads on the store's key watch.
 */
export class KeyRing {
  readonly #o: KeyRingOptions;
  #keys: LiveKey[] = [];
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #reloading: Promise<void> | undefined;

  constructor(options: KeyRingOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.#o.store.onKeysChanged(() => {
      this.reload().catch((err) => this.#o.logger.warn({ err }, 'auth: reloading signing keys failed'));
    });
    await this.reload();
    if (this.#keys.length === 0) await this.rotate();
    const every = Math.max(1_000, Math.min(60_000, (this.#o.rotationIntervalSec * 1000) / 4));
    this.#timer = setInterval(() => {
      this.#tick().catch((err) => this.#o.logger.warn({ err }, 'auth: scheduled key rotation failed'));
    }, every);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
  }

  /** The key that signs now. */
  current(): { kid: string; alg: string; privateKey: CryptoKey } {
    const k = this.#keys[0];
    if (!k) throw new UnavailableError('auth: no signing key loaded yet');
    return { kid: k.record.kid, alg: k.record.alg, privateKey: k.privateKey };
  }

  /** The public keys still able to verify a live token. */
  jwks(): { keys: JWK[] } {
    const now = Date.now();
    return { keys: this.#keys.filter((k) => k.retireAt > now).map((k) => ({ ...(k.record.publicJwk as JWK) })) };
  }

  /** Make a new key the signing one. The old stays published until its tokens have expired. */
  async rotate(): Promise<string> {
    const { algorithm, masterKey, store } = this.#o;
    const kid = await addSigningKey(store, masterKey, algorithm);
    await this.reload();
    this.#o.logger.info({ kid, alg: algorithm }, 'auth: signing key rotated');
    return kid;
  }

  /** Read the keys again (coalesced). */
  reload(): Promise<void> {
    this.#reloading ??= this.#load().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #load(): Promise<void> {
    const records = (await this.#o.store.listKeys()).sort(
      (a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? 1 : -1),
    );
    const keepMs = (this.#o.accessTokenTtlSec + this.#o.clockToleranceSec) * 1000;
    const known = new Map(this.#keys.map((k) => [k.record.kid, k]));
    const next: LiveKey[] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const retireAt = i === 0 ? Number.POSITIVE_INFINITY : records[i - 1]!.createdAt + keepMs;
      if (retireAt <= Date.now()) {
        await this.#o.store.deleteKey(record.kid).catch(() => undefined);
        continue;
      }
      const have = known.get(record.kid);
      const privateKey =
        have?.privateKey ??
        ((await importJWK(
          JSON.parse(decryptPrivateKey(this.#o.masterKey, record.kid, record.encryptedPrivateKey)) as JWK,
          record.alg,
        )) as CryptoKey);
      next.push({ record, privateKey, retireAt });
    }
    this.#keys = next;
  }

  async #tick(): Promise<void> {
    const current = this.#keys[0];
    if (!current || Date.now() - current.record.createdAt >= this.#o.rotationIntervalSec * 1000) await this.rotate();
    else await this.reload();
  }
}
