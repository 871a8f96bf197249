import type { IncomingMessage } from 'node:http';
import { invalidRequest } from '../auth/auth-errors.js';

/** The subprotocol a browser names to carry its token: `Sec-WebSocket-Protocol: bearer, <token>`. */
export const BEARER_SUBPROTOCOL = 'bearer';

/**
 * Browsers cannot set `Authorization` on a WebSocket, but they can offer subprotocols:
 * `new WebSocket(url, ['bearer', token])` sends `Sec-WebSocket-Protocol: bearer, <token>`.
 * This moves such a token into `Authorization: Bearer <token>` (where the auth guard reads
 * it, and from where it removes it once verified) and leaves `bearer` alone in the
 * subprotocol header, which the handshake then selects (a browser fails a handshake that
 * selects none of the protocols it offered).
 *
 * Why not `?access_token=`: a URL is written to access logs, proxies' logs and traces;
 * a header is not. The token is never logged here either.
 *
 * A token sent both ways is refused (400, as a bearer token with an API key is): which one
 * counts must not depend on the order of the checks.
 */
export function takeSubprotocolBearer(req: IncomingMessage, realm: string): void {
  const offered = req.headers['sec-websocket-protocol'];
  if (typeof offered !== 'string') return;
  const list = offered.split(',').map((p) => p.trim());
  const at = list.indexOf(BEARER_SUBPROTOCOL);
  const token = at === -1 ? undefined : list[at + 1];
  if (token === undefined || token === '') return;
  if (req.headers.authorization !== undefined) {
    throw invalidRequest(
      'multiple_credentials',
      'send the token either in Authorization or in Sec-WebSocket-Protocol, not both',
      realm,
    );
  }
  req.headers.authorization = `Bearer ${token}`;
  list.splice(at + 1, 1);
  req.headers['sec-websocket-protocol'] = list.join(', ');
}
