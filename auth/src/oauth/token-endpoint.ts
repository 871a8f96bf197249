import type { Logger } from 'pino';
import type { Accounts } from '../accounts/accounts.js';
import type { AccountRecord } from '../store/auth-store.js';
import type { TokenIssuer, TokenResponse } from '../tokens/token-issuer.js';
import { readClientCredentials } from './client-auth.js';
import { OAuthError } from './oauth-error.js';

/** Parameters a grant may send once only (RFC 6749 §3.2: repeated parameters are invalid_request). */
const SINGLE = ['grant_type', 'scope', 'refresh_token', 'client_id', 'client_secret', 'token'];

/** Body text → parameters: form-urlencoded (RFC 6749 §4.4.2) or, as a courtesy, a flat JSON object of strings. */
export function parseTokenRequest(contentType: string | undefined, body: string): URLSearchParams {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  let params: URLSearchParams;
  if (type === 'application/x-www-form-urlencoded') {
    params = new URLSearchParams(body);
  } else if (type === 'application/json') {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      throw new OAuthError('invalid_request', 'the body is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new OAuthError('invalid_request', 'the JSON body must be an object');
    }
    params = new URLSearchParams();
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw new OAuthError('invalid_request', `parameter ${k} must be a string`);
      params.set(k, v);
    }
  } else {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  for (const name of SINGLE) {
    if (params.getAll(name).length > 1)
      throw new OAuthError('invalid_request', `parameter ${name} was sent more than once`);
  }
  return params;
}

/** The grants of `POST /oauth/token`. Every failure is an OAuthError (RFC 6749 §5.2). */
export class TokenEndpoint {
  constructor(
    private readonly accounts: Accounts,
    private readonly tokens: TokenIssuer,
    private readonly logger: Logger,
  ) {}

  async token(authorization: string | undefined, params: URLSearchParams): Promise<TokenResponse> {
    const grant = params.get('grant_type');
    if (grant === null || grant === '') throw new OAuthError('invalid_request', 'grant_type is required');
    if (grant !== 'client_credentials' && grant !== 'refresh_token') {
      throw new OAuthError(
        'unsupported_grant_type',
        `grant_type ${JSON.stringify(grant.slice(0, 64))} is not supported (client_credentials, refresh_token)`,
      );
    }
    const account = await this.#client(authorization, params);
    const scope = params.get('scope') ?? undefined;
    if (grant === 'client_credentials') {
      const response = await this.tokens.issue(account, this.tokens.grantScope(account, scope));
      this.logger.debug({ client: account.id, grant }, 'auth: token issued');
      return response;
    }
    const refresh = params.get('refresh_token');
    if (!refresh) throw new OAuthError('invalid_request', 'refresh_token is required');
    const response = await this.tokens.refresh(account, refresh, scope);
    this.logger.debug({ client: account.id, grant }, 'auth: token refreshed');
    return response;
  }

  async revoke(authorization: string | undefined, params: URLSearchParams): Promise<void> {
    const account = await this.#client(authorization, params);
    const token = params.get('token');
    if (!token) throw new OAuthError('invalid_request', 'token is required');
    await this.tokens.revoke(account, token);
  }

  async #client(authorization: string | undefined, params: URLSearchParams): Promise<AccountRecord> {
    const creds = readClientCredentials(authorization, params);
    const account = await this.accounts.authenticate(creds.clientId, creds.clientSecret);
    if (!account) throw new OAuthError('invalid_client', 'unknown client or wrong secret', creds.basic);
    if (account.revokedAt !== undefined) {
      throw new OAuthError('invalid_client', `client "${account.id}" is revoked`, creds.basic);
    }
    return account;
  }
}
