/**
 * Who a verified token speaks for. The auth service (`@switchyard/auth`) issues the
 * tokens; the SDK and the gateway read them back into this shape, and the rule
 * evaluator decides on it. Claim names follow RFC 9068 (JWT access tokens) where one
 * exists.
 */
export type AccountType = 'user' | 'service';

export interface Account {
  /** The account id: the token's `sub` (and `client_id`). */
  readonly id: string;
  readonly type: AccountType;
  /** Granted scopes (the `scope` claim, space-separated on the wire). */
  readonly scopes: readonly string[];
  /** The token's `iss`. */
  readonly issuer: string;
  /** String metadata of the account (claim `metadata`), e.g. `{ team: 'payments' }`. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** The claims of a Switchyard access token (JWT, header `typ: at+jwt`, `kid` set). */
export const TOKEN_CLAIM = Object.freeze({
  /** `user` or `service`. */
  accountType: 'account_type',
  scope: 'scope',
  clientId: 'client_id',
  metadata: 'metadata',
});

/** The audience of access tokens unless configured otherwise (auth service and verifiers agree). */
export const DEFAULT_TOKEN_AUDIENCE = 'switchyard';

/** Scope in a rule meaning "anyone, even unauthenticated" (Go Micro's empty scope). */
export const PUBLIC_SCOPE = '';
/** Scope in a rule meaning "any authenticated account". */
export const ANY_ACCOUNT_SCOPE = '*';
