import { InvalidArgumentError, NotFoundError } from '@switchyard/broker';
import type { AccountType } from '@switchyard/sdk';
import { generateSecret, type HashParams, hashSecret, verifySecret } from '../secrets/secret-hash.js';
import type { AccountRecord, AuthStore } from '../store/auth-store.js';

export const ACCOUNT_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const SCOPE_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
const META_KEY = /^[A-Za-z0-9_.-]{1,64}$/;

export interface CreateAccountInput {
  id: string;
  type: AccountType;
  scopes?: readonly string[];
  metadata?: Record<string, string>;
  /** Default: 32 random bytes (base64url), returned once. */
  secret?: string;
}

/** An account as shown to operators: everything but the hash. */
export type AccountView = Omit<AccountRecord, 'secretHash'>;

export function viewOf(record: AccountRecord): AccountView {
  const { secretHash: _hidden, ...view } = record;
  return view;
}

/** Go Micro's Generate/Inspect for accounts: create with a hashed secret, authenticate, revoke. */
export class Accounts {
  // Hashed once: an unknown client id costs as much as a wrong secret (no timing oracle for ids).
  #dummy: Promise<string> | undefined;

  constructor(
    private readonly store: AuthStore,
    private readonly hashParams: HashParams,
  ) {}

  async create(input: CreateAccountInput): Promise<{ account: AccountView; secret: string }> {
    const bad = (field: string, problem: string) =>
      new InvalidArgumentError(`account ${field} ${problem}`, { details: { field } });
    if (typeof input?.id !== 'string' || !ACCOUNT_ID_PATTERN.test(input.id)) {
      throw bad('id', `must match ${ACCOUNT_ID_PATTERN.source}`);
    }
    if (input.type !== 'user' && input.type !== 'service') throw bad('type', 'must be "user" or "service"');
    const scopes = [...new Set(input.scopes ?? [])];
    for (const s of scopes)
      if (typeof s !== 'string' || !SCOPE_PATTERN.test(s))
        throw bad('scopes', `has an invalid scope ${JSON.stringify(s)}`);
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(input.metadata ?? {})) {
      if (!META_KEY.test(k) || typeof v !== 'string' || v.length > 512)
        throw bad('metadata', `has an invalid entry ${JSON.stringify(k)}`);
      metadata[k] = v;
    }
    const secret = input.secret ?? generateSecret();
    if (typeof secret !== 'string' || secret.length < 16) throw bad('secret', 'must be at least 16 characters');
    const record: AccountRecord = {
      id: input.id,
      type: input.type,
      scopes,
      metadata,
      secretHash: await hashSecret(secret, this.hashParams),
      createdAt: new Date().toISOString(),
    };
    await this.store.putAccount(record);
    return { account: viewOf(record), secret };
  }

  async list(): Promise<AccountView[]> {
    return (await this.store.listAccounts()).map(viewOf);
  }

  async get(id: string): Promise<AccountRecord | undefined> {
    return this.store.getAccount(id);
  }

  /** Stops new tokens for the account at once (both grants). Idempotent. */
  async revoke(id: string): Promise<AccountView> {
    const record = await this.store.getAccount(id);
    if (!record) throw new NotFoundError(`no account "${id}"`, { details: { id } });
    if (record.revokedAt !== undefined) return viewOf(record);
    const revoked = { ...record, revokedAt: new Date().toISOString() };
    await this.store.putAccount(revoked, { replace: true });
    return viewOf(revoked);
  }

  /** The account when id and secret match (revoked accounts included: the caller decides), else undefined. */
  async authenticate(id: string, secret: string): Promise<AccountRecord | undefined> {
    const record = ACCOUNT_ID_PATTERN.test(id) ? await this.store.getAccount(id) : undefined;
    if (!record) {
      this.#dummy ??= hashSecret('dummy-secret-for-timing', this.hashParams);
      await verifySecret(secret, await this.#dummy);
      return undefined;
    }
    return (await verifySecret(secret, record.secretHash)) ? record : undefined;
  }
}
