import { OAuthError } from './oauth-error.js';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  /** Sent with HTTP Basic (a 401 then carries a Basic challenge). */
  basic: boolean;
}

function formDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

/**
 * Client authentication (RFC 6749 §2.3.1): HTTP Basic, id and secret form-urlencoded
 * before base64; or `client_id` + `client_secret` in the body. Both at once is
 * `invalid_request` (a client must use one method).
 */
export function readClientCredentials(authorization: string | undefined, params: URLSearchParams): ClientCredentials {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  if (authorization !== undefined) {
    const m = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
    if (!m)
      throw new OAuthError('invalid_client', 'the Authorization header must be HTTP Basic client credentials', true);
    if (bodySecret !== null) {
      throw new OAuthError(
        'invalid_request',
        'send the client credentials either with HTTP Basic or in the body, not both',
      );
    }
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new OAuthError('invalid_client', 'malformed HTTP Basic credentials', true);
    let clientId: string;
    let clientSecret: string;
    try {
      clientId = formDecode(decoded.slice(0, colon));
      clientSecret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw new OAuthError('invalid_client', 'malformed HTTP Basic credentials', true);
    }
    if (bodyId !== null && bodyId !== clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body differs from the authenticated client');
    }
    return { clientId, clientSecret, basic: true };
  }
  if (bodyId === null || bodySecret === null || bodyId === '' || bodySecret === '') {
    throw new OAuthError(
      'invalid_client',
      'client authentication required (HTTP Basic, or client_id and client_secret)',
    );
  }
  return { clientId: bodyId, clientSecret: bodySecret, basic: false };
}
