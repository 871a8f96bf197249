import type { Duplex } from 'node:stream';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { RejectReason } from '../metrics/labels.js';
import { headersTooLarge, malformedRequest, rawErrorResponse, requestTimeout } from './edge-errors.js';

/** How long a refused socket may linger after the error was written before it is destroyed. */
const LINGER_MS = 1_000;

/** Write a last response (or nothing) and make sure the socket goes away. */
export function endSocket(socket: Duplex, response: string | undefined): void {
  if (response !== undefined && socket.writable) socket.end(response);
  else socket.destroy();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

interface ParserError extends Error {
  code?: string;
}

/**
 * Node's `clientError` listener: requests node's parser refused before any handler saw
 * them — a head over `maxHeaderSize` (431), a request not received within the timeouts
 * (408), and everything malformed or ambiguous (400: Content-Length with
 * Transfer-Encoding, duplicate Content-Length, obs-fold, bad chunk sizes, ...). The
 * answer is the usual JSON error body with `Connection: close`; nothing reaches a route.
 */
export function clientErrorListener(
  metrics: GatewayMetrics,
  maxHeaderBytes: number,
): (err: ParserError, socket: Duplex) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
      socket.destroy();
      return;
    }
    let error: Error;
    let reason: RejectReason;
    let status: number;
    switch (err.code) {
      case 'HPE_HEADER_OVERFLOW':
        error = headersTooLarge(maxHeaderBytes);
        reason = 'size';
        status = 431;
        break;
      case 'ERR_HTTP_REQUEST_TIMEOUT':
        error = requestTimeout();
        reason = 'other';
        status = 408;
        break;
      default:
        error = malformedRequest(err.code);
        reason = 'other';
        status = 400;
    }
    metrics.rejected(undefined, reason);
    // Answer only when no response of an earlier (pipelined) request has started on this
    // socket, as node's own handler does: bytes in the middle of one would corrupt it.
    const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    const canAnswer = socket.writable && (current === undefined || current === null || !current.headersSent);
    if (canAnswer) metrics.observeRequest(undefined, undefined, status, 0);
    endSocket(socket, canAnswer ? rawErrorResponse(error) : undefined);
  };
}
