/** RFC 6749 §5.2 error codes (plus RFC 6750's server errors), each with its HTTP status. */
export const OAUTH_ERRORS = Object.freeze({
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  server_error: 500,
  temporarily_unavailable: 503,
});
export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

/**
 * A refusal of the token endpoint, written as `{ error, error_description }` with the
 * status of its code. `basic`: the client authenticated with HTTP Basic, so a 401 carries
 * a `WWW-Authenticate: Basic` challenge (§5.2).
 */
export class OAuthError extends Error {
  readonly status: number;
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly basic = false,
    readonly statusOverride?: number,
  ) {
    super(description);
    this.name = 'OAuthError';
    this.status = statusOverride ?? OAUTH_ERRORS[error];
  }

  body(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}
