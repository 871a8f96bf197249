import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Account, DEFAULT_TOKEN_AUDIENCE, TOKEN_CLAIM } from '@switchyard/sdk';
import { SignJWT } from 'jose';
import type { KeyRing } from '../keys/key-ring.js';
import { OAuthError } from '../oauth/oauth-error.js';
import type { AccountRecord, AuthStore } from '../store/auth-store.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
}

export interface TokenIssuerOptions {
  issuer: string;
  audience?: string;
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
}

export function refreshHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Access tokens (JWT, RFC 9068 shape, signed by the key ring's current key) and opaque
 * refresh tokens (stored only as their SHA-256), rotated on every use: a used refresh
 * token presented again means it was stolen, and the whole chain is revoked (RFC 9700 §4.14.2).
 */
export class TokenIssuer {
  constructor(
    private readonly store: AuthStore,
    private readonly keys: KeyRing,
    private readonly o: TokenIssuerOptions,
  ) {}

  /** Narrow the account's scopes to `requested` (space-separated); every requested scope must be granted. */
  grantScope(account: AccountRecord, requested: string | undefined): string {
    if (requested === undefined) return account.scopes.join(' ');
    const want = requested.split(' ').filter((s) => s !== '');
    const missing = want.filter((s) => !account.scopes.includes(s));
    if (missing.length > 0) throw new OAuthError('invalid_scope', `the account does not hold: ${missing.join(' ')}`);
    return [...new Set(want)].join(' ');
  }

  async accessToken(account: AccountRecord, scope: string, ttlSec = this.o.accessTokenTtlSec): Promise<string> {
    const key = this.keys.current();
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      [TOKEN_CLAIM.scope]: scope,
      [TOKEN_CLAIM.clientId]: account.id,
      [TOKEN_CLAIM.accountType]: account.type,
    };
    if (Object.keys(account.metadata).length > 0) claims[TOKEN_CLAIM.metadata] = account.metadata;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(this.o.issuer)
      .setSubject(account.id)
      .setAudience(this.o.audience ?? DEFAULT_TOKEN_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSec)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  /** A full grant: access token plus a new refresh token (of a new family, or of `family`). */
  async issue(account: AccountRecord, scope: string, family: string = randomUUID()): Promise<TokenResponse> {
    const refresh = randomBytes(32).toString('base64url');
    await this.store.putRefresh(refreshHash(refresh), {
      accountId: account.id,
      family,
      scope,
      expiresAt: Date.now() + this.o.refreshTokenTtlSec * 1000,
    });
    return {
      access_token: await this.accessToken(account, scope),
      token_type: 'Bearer',
      expires_in: this.o.accessTokenTtlSec,
      refresh_token: refresh,
      scope,
    };
  }

  /** Exchange a refresh token of `account` (already authenticated) for a new pair. */
  async refresh(account: AccountRecord, refreshToken: string, requested: string | undefined): Promise<TokenResponse> {
    const hash = refreshHash(refreshToken);
    const record = await this.store.getRefresh(hash);
    const invalid = (why: string) => new OAuthError('invalid_grant', why);
    if (!record || record.accountId !== account.id) throw invalid('the refresh token is not valid for this client');
    if (record.expiresAt < Date.now()) throw invalid('the refresh token has expired');
    if (await this.store.isFamilyRevoked(record.family)) throw invalid('the refresh token has been revoked');
    if (record.usedAt !== undefined || !(await this.store.useRefresh(hash, Date.now()))) {
      await this.store.revokeFamily(record.family);
      throw invalid('the refresh token was already used; its whole chain is now revoked');
    }
    // A refresh may narrow the scope of the original grant, never widen it (RFC 6749 §6).
    let scope = record.scope;
    if (requested !== undefined) {
      const have = record.scope.split(' ');
      const want = requested.split(' ').filter((s) => s !== '');
      if (!want.every((s) => have.includes(s)))
        throw new OAuthError('invalid_scope', 'a refresh cannot widen the scope');
      scope = want.join(' ');
    }
    // Scopes taken from the account since the grant are gone from the refreshed token too.
    scope = scope
      .split(' ')
      .filter((s) => s !== '' && account.scopes.includes(s))
      .join(' ');
    return this.issue(account, scope, record.family);
  }

  /** RFC 7009: revoke a refresh token (its chain) if it belongs to the client; unknown tokens are not an error. */
  async revoke(account: AccountRecord, refreshToken: string): Promise<void> {
    const record = await this.store.getRefresh(refreshHash(refreshToken));
    if (record && record.accountId === account.id) await this.store.revokeFamily(record.family);
  }
}

/** Account view for Go Micro's Inspect. */
export function accountFromRecord(record: AccountRecord, issuer: string): Account {
  return { id: record.id, type: record.type, scopes: record.scopes, issuer, metadata: record.metadata };
}
