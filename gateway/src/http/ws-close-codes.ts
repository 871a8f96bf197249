import type { ErrorCode } from '@switchyard/broker';
import { HTTP_STATUS_BY_CODE, httpStatusOf } from './error-status.js';

/**
 * The one place WebSocket close codes are decided (docs/gateway.md "WebSocket streams",
 * close code table). Two kinds:
 *
 * - RFC 6455 codes for what happened to the connection itself: the stream ended (1000),
 *   the gateway is going away (1001), a frame the bridge cannot take (binary 1003, text
 *   that is not JSON 1007, over the size limit 1009);
 * - every error of the stream itself (the service's, the broker's, the gateway's) closes
 *   with **4000 + its HTTP status** (error-status.ts), so the close code says as much as
 *   the status of the same error on a plain request (4400 INVALID_ARGUMENT, 4401, 4403,
 *   4429, 4503, ...) and no second table can drift from the first. The last text message
 *   before the close carries the exact code (`{"error": {...}}`).
 */
export const WS_CLOSE = Object.freeze({
  /** The service ended the stream. */
  normal: 1000,
  /** The gateway is shutting down. */
  goingAway: 1001,
  /** A binary message: items are JSON text. */
  unsupportedData: 1003,
  /** A text message that is not JSON (ws itself uses it for text that is not UTF-8). */
  invalidPayload: 1007,
  /** A message over the route's limit (ws closes with it itself, see maxPayload). */
  tooBig: 1009,
});

/** The close code of a stream that failed with `code`. */
export function wsCloseCodeOf(code: ErrorCode): number {
  return 4000 + httpStatusOf(code);
}

/** Every code the gateway closes with: the bounded label set of the close metric. */
export const WS_CLOSE_CODES: ReadonlySet<number> = new Set([
  ...Object.values(WS_CLOSE),
  // 1006: no close frame (the connection dropped); 1005: a close frame without a code.
  1005,
  1006,
  ...Object.values(HTTP_STATUS_BY_CODE).map((status) => 4000 + status),
]);

/** A close reason must fit 123 bytes (RFC 6455 §5.5): the error code always does. */
export function wsCloseReason(code: ErrorCode): string {
  return code.slice(0, 123);
}
