import type { ServerResponse } from 'node:http';
import { type ErrorBody, type SwitchyardError, toSwitchyardError } from '@switchyard/broker';
import { httpStatusOf } from './error-status.js';

/** The JSON body of a gateway error: the documented error body plus the request id. */
export interface HttpErrorBody extends ErrorBody {
  requestId?: string;
}

/** Everything needed to send an error, computed without touching a response. */
export interface HttpErrorResponse {
  status: number;
  headers: Record<string, string>;
  /** Serialised HttpErrorBody. */
  body: string;
}

/**
 * The HTTP form of anything thrown. Non-Switchyard errors become INTERNAL with a generic
 * message: their text and stack may hold internals. Headers:
 * - 401 and 403: `WWW-Authenticate` from `details.wwwAuthenticate` (set by the authenticator;
 *   on a 403 it is the `insufficient_scope` challenge, RFC 6750 §3.1);
 * - 429, and 503 (e.g. an open circuit): `Retry-After` from `details.retryAfterSeconds`;
 * - always `Cache-Control: no-store`: an error must not be cached by a shared cache.
 */
export function errorResponse(thrown: unknown, requestId?: string): HttpErrorResponse {
  const err = toSwitchyardError(thrown);
  const status = httpStatusOf(err.code);
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  };
  const details = err.details;
  const challenge = details?.wwwAuthenticate;
  if ((status === 401 || status === 403) && isHeaderValue(challenge)) headers['www-authenticate'] = challenge;
  if ((status === 429 || status === 503) && details !== undefined) {
    const s = details.retryAfterSeconds;
    if (typeof s === 'number' && Number.isFinite(s) && s > 0) headers['retry-after'] = String(Math.ceil(s));
  }
  return { status, headers, body: serialise(err, requestId) };
}

/**
 * Writes `thrown` as the JSON error response. If the response has already started (a
 * proxied body was streaming), no status can be sent any more: the connection is
 * destroyed so the client sees a truncated response rather than a complete-looking one.
 * A HEAD request gets the status and headers without a body.
 */
export function writeErrorResponse(res: ServerResponse, thrown: unknown, requestId?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const r = errorResponse(thrown, requestId);
  res.statusCode = r.status;
  for (const [name, value] of Object.entries(r.headers)) res.setHeader(name, value);
  res.setHeader('content-length', Buffer.byteLength(r.body));
  res.end(res.req?.method === 'HEAD' ? undefined : r.body);
}

function serialise(err: SwitchyardError, requestId: string | undefined): string {
  const body: HttpErrorBody = err.toJSON();
  if (requestId !== undefined) body.requestId = requestId;
  try {
    return JSON.stringify(body);
  } catch {
    // details that do not serialise (a cycle, a BigInt): drop them rather than fail the response.
    const { details: _dropped, ...rest } = body;
    return JSON.stringify(rest);
  }
}

/** A value Node accepts as a header: a string without control characters (no header injection). */
function isHeaderValue(v: unknown): v is string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
  return typeof v === 'string' && v !== '' && !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(v);
}
