import type { Account } from '@switchyard/sdk';
import { TOKEN_CLAIM } from '@switchyard/sdk';
import { ANONYMOUS, type Identity } from './identity.js';

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
// Identities are cached per token by the verifier, so their accounts can be too.
const accounts = new WeakMap<Identity, Account>();

/**
 * The gateway's verified identity in the shape the shared rule evaluator takes, so a
 * rule decides the same at the edge as at every service. A token without
 * `account_type` (an outside IdP's, an API key) counts as a user. Anonymous → undefined.
 */
export function accountOf(identity: Identity): Account | undefined {
  if (identity === ANONYMOUS || identity.subject === undefined) return undefined;
  let account = accounts.get(identity);
  if (account === undefined) {
    account = Object.freeze({
      id: identity.subject,
      type: identity.claims[TOKEN_CLAIM.accountType] === 'service' ? 'service' : 'user',
      scopes: identity.scopes,
      issuer: typeof identity.claims.iss === 'string' ? identity.claims.iss : '',
      metadata: EMPTY,
    });
    accounts.set(identity, account);
  }
  return account;
}
