import type { AccountType } from '@switchyard/sdk';

/**
 * Where the auth service keeps its state. Two implementations live side by side:
 * `EtcdAuthStore` (keys under `/<ns>/auth/`, the real path, shared by every auth replica
 * and the CLI) and `MemoryAuthStore` (the embedded default for `npm start` and unit
 * tests). tests/contract/auth-store.contract.ts runs against both, so they behave alike:
 * create-only accounts, a refresh token used at most once even under concurrent use,
 * and key changes seen by every watcher.
 */
export interface AccountRecord {
  readonly id: string;
  readonly type: AccountType;
  readonly scopes: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  /** `scrypt$...`: never the secret itself. */
  readonly secretHash: string;
  readonly createdAt: string;
  readonly revokedAt?: string;
}

export interface RefreshRecord {
  readonly accountId: string;
  /** Every token of one rotation chain shares it: reuse of a used token revokes the family. */
  readonly family: string;
  readonly scope: string;
  /** ms since the epoch. */
  readonly expiresAt: number;
  /** Set when the token was exchanged (it stays, so a second use is recognised as theft). */
  readonly usedAt?: number;
}

/** A signing key as stored: the private key only encrypted (AES-256-GCM under the master key). */
export interface KeyRecord {
  readonly kid: string;
  readonly alg: string;
  /** Public JWK (published in the JWKS while the key is not retired). */
  readonly publicJwk: Readonly<Record<string, unknown>>;
  /** base64(iv | tag | ciphertext of the private JWK). */
  readonly encryptedPrivateKey: string;
  readonly createdAt: number;
  /** When it stopped signing (a newer key took over); undefined for the current key. */
  readonly supersededAt?: number;
  /** After this, no token it signed can be valid: it leaves the JWKS and the store. */
  readonly retireAt?: number;
}

export interface AuthStore {
  start(): Promise<void>;
  close(): Promise<void>;

  /** Create (fails ALREADY_EXISTS when the id is taken) or, with `replace`, overwrite. */
  putAccount(record: AccountRecord, options?: { replace?: boolean }): Promise<void>;
  getAccount(id: string): Promise<AccountRecord | undefined>;
  listAccounts(): Promise<AccountRecord[]>;

  putRefresh(tokenHash: string, record: RefreshRecord): Promise<void>;
  getRefresh(tokenHash: string): Promise<RefreshRecord | undefined>;
  /** Mark used, atomically: true for exactly one of concurrent callers, false if it was used already. */
  useRefresh(tokenHash: string, at: number): Promise<boolean>;
  revokeFamily(family: string): Promise<void>;
  isFamilyRevoked(family: string): Promise<boolean>;
  deleteRefresh(tokenHash: string): Promise<void>;
  /** Remove refresh records that expired before `now`. Returns how many. */
  sweepRefresh(now: number): Promise<number>;

  putKey(record: KeyRecord): Promise<void>;
  listKeys(): Promise<KeyRecord[]>;
  deleteKey(kid: string): Promise<void>;
  /** Called after any key change, by anyone (another replica, the CLI). Returns an unsubscribe function. */
  onKeysChanged(listener: () => void): () => void;
}
