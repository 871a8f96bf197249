import { randomUUID } from 'node:crypto';

/** The header carrying a request's id, in and out (upstream request, RPC headers, response). */
export const REQUEST_ID_HEADER = 'x-request-id';

// Letters, digits and a few separators: safe in headers, logs and JSON without escaping.
const VALID = /^[A-Za-z0-9][A-Za-z0-9._:@=+/-]{0,127}$/;

/**
 * The id of a request: the client's (or an outer proxy's) `x-request-id` when it is a
 * sane token, so one id follows the request through every hop; otherwise a new UUID.
 * A repeated header or an odd value is replaced rather than trusted: it ends up in logs.
 */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && VALID.test(header) ? header : randomUUID();
}
