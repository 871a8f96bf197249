import {
  InvalidArgumentError,
  isSwitchyardError,
  PermissionDeniedError,
  type SwitchyardError,
  UnauthenticatedError,
} from '@switchyard/broker';
import { type BearerErrorCode, bearerChallenge } from './www-authenticate.js';

/**
 * Why a request was refused. Travels in `details.reason` so operators and clients can
 * branch on it; the HTTP status follows from the error's code (401 / 403 / 400).
 */
export type AuthFailureReason =
  // 401, challenge without an error code (RFC 6750 §3.1: no usable credentials sent)
  | 'missing_credentials'
  | 'unsupported_scheme'
  // 401 invalid_token
  | 'malformed_token'
  | 'alg_not_allowed'
  | 'unknown_kid'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claim'
  | 'invalid_claim'
  | 'invalid_api_key'
  | 'bearer_not_accepted'
  // 403 insufficient_scope
  | 'insufficient_scope'
  | 'denied_by_rule'
  // 400 invalid_request
  | 'multiple_credentials';

/** What every auth error carries in `details`. */
export interface AuthErrorDetails extends Record<string, unknown> {
  reason: AuthFailureReason;
  /** Copy into the `WWW-Authenticate` response header. */
  wwwAuthenticate: string;
  /** Scopes that would have granted access (403 and anonymous 401 only). */
  requiredScopes?: string[];
}

function details(
  reason: AuthFailureReason,
  realm: string,
  error: BearerErrorCode | undefined,
  description: string | undefined,
  scopes?: readonly string[],
): AuthErrorDetails {
  const scope = scopes && scopes.length > 0 ? scopes.join(' ') : undefined;
  const d: AuthErrorDetails = {
    reason,
    wwwAuthenticate: bearerChallenge({ realm, error, errorDescription: description, scope }),
  };
  if (scope) d.requiredScopes = [...scopes!];
  return d;
}

/** 401 for a credential that was sent but is not valid (`error="invalid_token"`). */
export function invalidToken(reason: AuthFailureReason, description: string, realm: string, cause?: unknown) {
  return new UnauthenticatedError(description, {
    details: details(reason, realm, 'invalid_token', description),
    cause,
  });
}

/**
 * 401 when no usable credential was sent: no `error` attribute in the challenge, as
 * RFC 6750 §3.1 asks; `scopes` hints what a token would need.
 */
export function missingCredentials(
  reason: 'missing_credentials' | 'unsupported_scheme',
  description: string,
  realm: string,
  scopes?: readonly string[],
) {
  return new UnauthenticatedError(description, { details: details(reason, realm, undefined, description, scopes) });
}

/** 403 `error="insufficient_scope"`; `scopes` lists what would have granted access (may be empty). */
export function insufficientScope(
  reason: 'insufficient_scope' | 'denied_by_rule',
  description: string,
  realm: string,
  scopes: readonly string[],
) {
  return new PermissionDeniedError(description, {
    details: details(reason, realm, 'insufficient_scope', description, scopes),
  });
}

/** 400 `error="invalid_request"` (RFC 6750 §3.1), e.g. a bearer token and an API key together. */
export function invalidRequest(reason: 'multiple_credentials', description: string, realm: string) {
  return new InvalidArgumentError(description, { details: details(reason, realm, 'invalid_request', description) });
}

/**
 * The `WWW-Authenticate` value an error asks for, if any: the HTTP layer copies it into
 * the response header.
 */
export function wwwAuthenticateOf(err: unknown): string | undefined {
  if (!isSwitchyardError(err)) return undefined;
  const v = (err as SwitchyardError).details?.wwwAuthenticate;
  return typeof v === 'string' ? v : undefined;
}
