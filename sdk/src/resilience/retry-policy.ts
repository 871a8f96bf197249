import { isSwitchyardError, type SwitchyardError, UnavailableError } from '@switchyard/broker';

/** Retries of one call. `attempts` counts the first try: 1 means never retry. */
export interface RetryOptions {
  /** Total attempts, first included. Default 3. */
  attempts: number;
  /** Upper bound on the first delay, ms (decorrelated jitter picks below it). Default 50. */
  initialDelayMs: number;
  /** Upper bound on any delay, ms. Default 1000. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_OPTIONS: Readonly<RetryOptions> = Object.freeze({
  attempts: 3,
  initialDelayMs: 50,
  maxDelayMs: 1_000,
});

/**
 * Whether a failed attempt of a call to `service` may be tried again without risking
 * running a handler twice:
 *
 * - the request never left: SERVICE_NOT_FOUND (nothing registered yet), or the local
 *   UNAVAILABLE a transport raises when no server consumes the service's queue
 *   (`details.service` set, built here rather than decoded from a reply);
 * - the method is idempotent and the failure is UNAVAILABLE (connection lost mid-call, an
 *   instance went away) — whether or not the handler ran, running it again is harmless.
 *
 * Never retried: CIRCUIT_OPEN (failing fast is its point), CLOSED (we are shutting down),
 * DEADLINE_EXCEEDED (no time is left), RESOURCE_EXHAUSTED codes (back-pressure must reach
 * the caller, retrying would add load), and every error a handler chose to return.
 */
export function isSafeToRetry(err: unknown, service: string, idempotent: boolean): boolean {
  if (!isSwitchyardError(err)) return false;
  if (err.code === 'SERVICE_NOT_FOUND') return true;
  if (err.code !== 'UNAVAILABLE') return false;
  if (err instanceof UnavailableError && (err as SwitchyardError).details?.service === service) return true;
  return idempotent;
}
