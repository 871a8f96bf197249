import type { IncomingHttpHeaders } from 'node:http';

/** What a request presented to authenticate. */
export type Credential =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'api-key'; readonly key: string }
  /** An Authorization header with another scheme (Basic, a bare token, ...). */
  | { readonly kind: 'unsupported' }
  /** A Bearer scheme without a well-formed token (RFC 6750 §2.1 b64token). */
  | { readonly kind: 'malformed-bearer' }
  | { readonly kind: 'multiple' };

const NONE: Credential = Object.freeze({ kind: 'none' });
const MALFORMED: Credential = Object.freeze({ kind: 'malformed-bearer' });
const UNSUPPORTED: Credential = Object.freeze({ kind: 'unsupported' });
const MULTIPLE: Credential = Object.freeze({ kind: 'multiple' });
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Read the credential from request headers. `apiKeyHeader` is undefined when API keys are
 * not configured: the header is then left to the upstream. Sending a bearer token and an
 * API key together is `multiple` (RFC 6750 §3.1: more than one method is invalid_request).
 */
export function readCredential(headers: IncomingHttpHeaders, apiKeyHeader: string | undefined): Credential {
  const authorization = first(headers.authorization);
  const apiKey = apiKeyHeader === undefined ? undefined : first(headers[apiKeyHeader]);
  if (authorization !== undefined && authorization !== '') {
    if (apiKey !== undefined) return MULTIPLE;
    const m = BEARER.exec(authorization);
    if (m !== null) return { kind: 'bearer', token: m[1]! };
    const scheme = authorization.trim().split(' ', 1)[0]!.toLowerCase();
    return scheme === 'bearer' ? MALFORMED : UNSUPPORTED;
  }
  if (apiKey !== undefined) return { kind: 'api-key', key: apiKey };
  return NONE;
}
