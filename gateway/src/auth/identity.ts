import type { JWTPayload } from 'jose';

/** How the caller was identified. */
export type AuthMethod = 'jwt' | 'api-key' | 'anonymous';

/** Who a request comes from, after verification. Frozen: cached and shared between requests. */
export interface Identity {
  readonly method: AuthMethod;
  /** `sub` of the token, or the API key's subject; undefined for anonymous callers. */
  readonly subject: string | undefined;
  readonly scopes: readonly string[];
  /** The verified claims (JWT payload; for API keys `{ sub, api_key }`); empty when anonymous. */
  readonly claims: Readonly<JWTPayload>;
  /** The verified bearer token itself (JWT callers only): forwarded on RPC hops as the user's proof of identity. */
  readonly token?: string;
}

export const ANONYMOUS: Identity = Object.freeze({
  method: 'anonymous',
  subject: undefined,
  scopes: Object.freeze([]) as readonly string[],
  claims: Object.freeze({}),
});
