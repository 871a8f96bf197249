/** Default `realm` of every challenge the gateway sends. */
export const DEFAULT_REALM = 'switchyard';

/** RFC 6750 §3.1 error codes. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface BearerChallenge {
  realm: string;
  /** Omitted when the request carried no (usable) credentials at all, as RFC 6750 §3.1 asks. */
  error?: BearerErrorCode | undefined;
  errorDescription?: string | undefined;
  /** Space-separated scopes that would grant access. */
  scope?: string | undefined;
}

// RFC 6750 restricts error_description and scope to printable ASCII without '"' and '\',
// so values are cleaned rather than escaped: a client's parser never sees an escape.
function clean(value: string): string {
  return value.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '');
}

/** The `WWW-Authenticate` header value for a Bearer challenge (RFC 6750 §3). */
export function bearerChallenge(c: BearerChallenge): string {
  let out = `Bearer realm="${clean(c.realm)}"`;
  if (c.error) out += `, error="${c.error}"`;
  if (c.errorDescription) out += `, error_description="${clean(c.errorDescription)}"`;
  if (c.scope) out += `, scope="${clean(c.scope)}"`;
  return out;
}
