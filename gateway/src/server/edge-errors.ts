import type { ServerResponse } from 'node:http';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  type SwitchyardError,
  UnimplementedError,
} from '@switchyard/broker';
import { errorResponse, type HttpErrorResponse } from '../http/error-response.js';

/**
 * Refusals of the HTTP edge itself. Each is an ordinary SwitchyardError (the body has
 * its code, `details.reason` says which refusal), written through `errorResponse`; five
 * of them answer with an HTTP status the error model has no code for: 405, 408, 413, 426
 * and 431. Those statuses are decided here, from `details.reason`, and nowhere else.
 *
 * The codes follow gRPC: an oversized message is RESOURCE_EXHAUSTED (not retryable: the
 * same request fails again), a method the route does not serve is UNIMPLEMENTED.
 */
export type EdgeReason =
  | 'route_not_found'
  | 'method_not_allowed'
  | 'body_too_large'
  | 'headers_too_large'
  | 'request_timeout'
  | 'bad_framing'
  | 'malformed_request'
  | 'invalid_json'
  | 'upgrade_required';

/** Errors built here: a service's error that happens to carry such a reason keeps its code's status. */
const edgeErrors = new WeakSet<object>();

function edge(err: SwitchyardError): SwitchyardError {
  edgeErrors.add(err);
  return err;
}

const STATUS_BY_REASON: Partial<Record<EdgeReason, number>> = {
  method_not_allowed: 405,
  request_timeout: 408,
  body_too_large: 413,
  upgrade_required: 426,
  headers_too_large: 431,
};

export function routeNotFound(): SwitchyardError {
  return new NotFoundError('no route matches this request', { details: { reason: 'route_not_found' } });
}

export function methodNotAllowed(method: string | undefined, allowed: readonly string[]): SwitchyardError {
  return edge(
    new UnimplementedError(`method ${method ?? '?'} is not allowed here; allowed: ${allowed.join(', ')}`, {
      details: { reason: 'method_not_allowed', allowed: [...allowed] },
    }),
  );
}

export function bodyTooLarge(limit: number): SwitchyardError {
  return edge(
    new ResourceExhaustedError(`the request body is larger than ${limit} bytes`, {
      details: { reason: 'body_too_large', limitBytes: limit },
      retryable: false,
    }),
  );
}

export function headersTooLarge(limit: number): SwitchyardError {
  return edge(
    new ResourceExhaustedError(`the request headers are larger than ${limit} bytes`, {
      details: { reason: 'headers_too_large', limitBytes: limit },
      retryable: false,
    }),
  );
}

export function requestTimeout(): SwitchyardError {
  return edge(
    new ResourceExhaustedError('the request was not received in time', {
      details: { reason: 'request_timeout' },
      retryable: true,
    }),
  );
}

export function badFraming(problem: string): SwitchyardError {
  return new InvalidArgumentError(`the request is ambiguous: ${problem}`, { details: { reason: 'bad_framing' } });
}

export function malformedRequest(parserCode: string | undefined): SwitchyardError {
  return new InvalidArgumentError('the request is not valid HTTP/1.1', {
    details: { reason: 'malformed_request', ...(parserCode ? { parserCode } : {}) },
  });
}

export function invalidJson(problem: string): SwitchyardError {
  return new InvalidArgumentError(`the request body is not valid JSON: ${problem}`, {
    details: { reason: 'invalid_json', violations: [{ pointer: '', message: `is not valid JSON: ${problem}` }] },
  });
}

/** A plain request to a `stream: websocket` route: only a WebSocket upgrade is served there. */
export function upgradeRequired(): SwitchyardError {
  return edge(
    new FailedPreconditionError('this route serves WebSocket connections only: open one (Upgrade: websocket)', {
      details: { reason: 'upgrade_required', upgrade: 'websocket' },
    }),
  );
}

/** `errorResponse`, with the edge statuses above and an `Allow` header on 405. */
export function edgeErrorResponse(thrown: unknown, requestId?: string): HttpErrorResponse {
  const r = errorResponse(thrown, requestId);
  const details = (thrown as SwitchyardError | undefined)?.details;
  const reason = details?.reason;
  if (typeof reason === 'string') {
    const status = STATUS_BY_REASON[reason as EdgeReason];
    if (status !== undefined && typeof thrown === 'object' && thrown !== null && edgeErrors.has(thrown)) {
      r.status = status;
    }
    if (r.status === 405 && Array.isArray(details?.allowed)) r.headers.allow = (details.allowed as string[]).join(', ');
    // RFC 9110 §15.5.22: a 426 names the protocol to switch to.
    if (r.status === 426) r.headers.upgrade = 'websocket';
    // The rest of a too-large or broken request is not worth reading: close the connection.
    if (r.status === 413 || r.status === 431 || r.status === 408 || reason === 'bad_framing') {
      r.headers.connection = 'close';
    }
  }
  return r;
}

/**
 * Write any thrown value as the JSON error response (statuses per `edgeErrorResponse`).
 * A response that has started already cannot change status: the connection is cut so
 * the client sees a truncated answer, never a complete-looking one.
 */
export function writeEdgeError(res: ServerResponse, thrown: unknown, requestId?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const r = edgeErrorResponse(thrown, requestId);
  res.statusCode = r.status;
  for (const name in r.headers) res.setHeader(name, r.headers[name]!);
  res.setHeader('content-length', Buffer.byteLength(r.body));
  res.end(res.req?.method === 'HEAD' ? undefined : r.body);
}

/** The error as a complete raw HTTP/1.1 response, for sockets that never got a ServerResponse. */
export function rawErrorResponse(thrown: unknown, requestId?: string): string {
  const r = edgeErrorResponse(thrown, requestId);
  let head = `HTTP/1.1 ${r.status} ${REASON_PHRASES[r.status] ?? 'Error'}\r\n`;
  r.headers.connection = 'close';
  for (const name in r.headers) head += `${name}: ${r.headers[name]}\r\n`;
  return `${head}content-length: ${Buffer.byteLength(r.body)}\r\n\r\n${r.body}`;
}

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
