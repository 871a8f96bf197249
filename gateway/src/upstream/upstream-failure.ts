import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  CircuitOpenError,
  ClosedError,
  DeadlineExceededError,
  InternalError,
  type SwitchyardError,
  UnavailableError,
} from '@switchyard/broker';
import { errorResponse, writeErrorResponse } from '../http/error-response.js';
import type { UpstreamErrorReason } from '../metrics/labels.js';

/**
 * How an attempt failed:
 * - `connect`: no connection was made (refused, unreachable, DNS): nothing was sent;
 * - `stale`: a reused keep-alive connection was reset before any response byte (the
 *   instance closed it as the request went out); it almost surely did not see the request;
 * - `reset`: a fresh connection was reset or closed before the response; the instance
 *   may have acted on the request;
 * - `protocol`: the response could not be parsed;
 * - `timeout`: no response headers within the deadline;
 * - `status`: the instance answered with a status counted as failure (502/503/504 by default).
 */
export type FailureKind = 'connect' | 'stale' | 'reset' | 'protocol' | 'timeout' | 'status';

/** A connection closed or reset under a request (undici reports a peer's FIN as UND_ERR_SOCKET "other side closed"). */
const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** Answers that are not HTTP, or not the HTTP they announced. */
const PROTOCOL_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
]);

export function classifyError(err: unknown, connected: boolean, reusedSocket: boolean): FailureKind {
  if (!connected) return 'connect';
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = e?.code;
  if (typeof code === 'string') {
    if (code.startsWith('HPE_') || PROTOCOL_CODES.has(code)) return 'protocol';
    // undici's "bad response": bytes that cannot be a response to this request (e.g. an answer before it was sent).
    if (code === 'UND_ERR_SOCKET' && e?.message === 'bad response') return 'protocol';
    if (reusedSocket && RESET_CODES.has(code)) return 'stale';
  }
  return 'reset';
}

export function metricReason(kind: FailureKind): UpstreamErrorReason {
  switch (kind) {
    case 'connect':
      return 'connect';
    case 'stale':
    case 'reset':
      return 'reset';
    case 'timeout':
      return 'timeout';
    case 'protocol':
    case 'status':
      return 'bad_response';
  }
}

/**
 * What the client gets when the upstream leg failed: a Switchyard error (JSON body
 * through errorResponse) and, for failures of the upstream's answer itself, status 502.
 * 502 is not the status of any error code (UNAVAILABLE is 503): "bad gateway" describes
 * where the failure happened, not what a caller should do, so it is set here, for these
 * cases only. Messages name the service, never an instance address.
 */
export interface UpstreamFailure {
  readonly error: SwitchyardError;
  /** Overrides the code's status (502). */
  readonly status?: number;
}

export function failureResponse(
  kind: FailureKind,
  service: string,
  attempts: number,
  timeoutMs: number,
): UpstreamFailure {
  const details = { service, reason: kind, attempts };
  switch (kind) {
    case 'connect':
      return { error: new UnavailableError(`no instance of ${service} accepted the connection`, { details }) };
    case 'timeout':
      return {
        error: new DeadlineExceededError(`${service} did not answer within ${timeoutMs} ms`, {
          details: { ...details, timeoutMs },
        }),
      };
    case 'protocol':
      return {
        error: new InternalError(`${service} sent a response that is not valid HTTP`, { details }),
        status: 502,
      };
    default:
      return {
        error: new UnavailableError(`${service} closed the connection before answering`, { details }),
        status: 502,
      };
  }
}

export function noInstance(service: string): UpstreamFailure {
  return {
    error: new UnavailableError(`no healthy instance of ${service}`, { details: { service, reason: 'no_instance' } }),
  };
}

export function circuitOpen(service: string, retryAfterMs: number): UpstreamFailure {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return {
    error: new CircuitOpenError(`the circuit to ${service} is open: too many recent requests failed`, {
      details: { service, retryAfterSeconds },
    }),
  };
}

export function poolClosed(): UpstreamFailure {
  return { error: new ClosedError('the gateway is shutting down') };
}

/** Writes the JSON error (or cuts the response when it has started). */
export function writeFailure(res: ServerResponse, failure: UpstreamFailure, requestId: string): void {
  if (failure.status === undefined || res.headersSent) {
    writeErrorResponse(res, failure.error, requestId);
    return;
  }
  const r = errorResponse(failure.error, requestId);
  res.statusCode = failure.status;
  for (const [name, value] of Object.entries(r.headers)) res.setHeader(name, value);
  res.setHeader('content-length', Buffer.byteLength(r.body));
  res.end(res.req?.method === 'HEAD' ? undefined : r.body);
}

/** The same on a raw socket (a failed WebSocket upgrade), then closes it. */
export function writeSocketFailure(socket: Duplex, failure: UpstreamFailure, requestId: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const r = errorResponse(failure.error, requestId);
  const status = failure.status ?? r.status;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n`;
  for (const [name, value] of Object.entries(r.headers)) head += `${name}: ${value}\r\n`;
  head += `content-length: ${Buffer.byteLength(r.body)}\r\nconnection: close\r\n\r\n`;
  socket.end(head + r.body);
}
