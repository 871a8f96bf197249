import { type CanonicalCode, canonicalOf, type ErrorCode } from '@switchyard/broker';

/**
 * The one place error codes become HTTP statuses, as documented in docs/errors.md (the
 * HTTP column; tests/unit/error-status.test.ts keeps the two in step). Specific codes
 * take the status of the canonical code they refine.
 */
export const HTTP_STATUS_BY_CODE: Readonly<Record<CanonicalCode, number>> = Object.freeze({
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  DEADLINE_EXCEEDED: 504,
  UNAVAILABLE: 503,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 412,
  // nginx's "client closed request": nothing standard fits a caller that went away.
  CANCELLED: 499,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
});

/** The HTTP status of any error code, canonical or specific. */
export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS_BY_CODE[canonicalOf(code)];
}
