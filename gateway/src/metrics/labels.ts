/**
 * Label values are bounded sets: every series costs memory here and in Prometheus, and a
 * label fed from the request (a path, a made-up method) would let any client mint series.
 */

/** The `route` label of requests that matched no route. */
export const UNMATCHED_ROUTE = '_unmatched';

/** The value any label takes for something outside its known set. */
export const OTHER = '_other';

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function methodLabel(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : OTHER;
}

/** Node allows any status from 100 to 999; anything else is a bug, counted as one value. */
export function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 999 ? String(status) : OTHER;
}

/** Why a call to an upstream failed. */
export const UPSTREAM_ERROR_REASONS = [
  'connect',
  'timeout',
  'reset',
  'bad_response',
  'circuit_open',
  'no_instance',
  'other',
] as const;
export type UpstreamErrorReason = (typeof UPSTREAM_ERROR_REASONS)[number];

/** Why the gateway refused a request before (or instead of) proxying it. */
export const REJECT_REASONS = [
  'auth',
  'forbidden',
  'validation',
  'size',
  'rate_limit',
  'not_found',
  'method',
  'other',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export function oneOf<T extends string>(known: readonly T[], value: string): T | 'other' {
  return (known as readonly string[]).includes(value) ? (value as T) : 'other';
}

/** Circuit breaker states and their gauge values. */
export const CIRCUIT_STATE_VALUES = Object.freeze({ closed: 0, 'half-open': 1, open: 2 });
export type CircuitState = keyof typeof CIRCUIT_STATE_VALUES;
