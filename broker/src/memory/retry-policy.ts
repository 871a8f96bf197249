/**
 * Retry policy of a subscription: merged over the defaults, validated once, and the
 * backoff formula of docs/protocol.md §3 in one place.
 */
import { InvalidOptionsError } from '../errors.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../transport.js';

/** Merge a partial policy over DEFAULT_RETRY_POLICY; throws InvalidOptionsError naming the bad field. */
export function resolveRetryPolicy(partial: Partial<RetryPolicy> | undefined): Readonly<RetryPolicy> {
  if (partial !== undefined && (typeof partial !== 'object' || partial === null))
    throw new InvalidOptionsError('retry must be an object');
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY };
  for (const [key, value] of Object.entries(partial ?? {})) {
    if (value === undefined) continue;
    if (!Object.hasOwn(DEFAULT_RETRY_POLICY, key)) throw new InvalidOptionsError(`retry.${key} is not a retry option`);
    policy[key as keyof RetryPolicy] = value as number;
  }
  if (!Number.isInteger(policy.attempts) || policy.attempts < 1)
    throw new InvalidOptionsError(`retry.attempts must be an integer >= 1, got ${String(policy.attempts)}`);
  if (!isNonNegativeFinite(policy.initialDelayMs))
    throw new InvalidOptionsError(
      `retry.initialDelayMs must be a finite number >= 0, got ${String(policy.initialDelayMs)}`,
    );
  if (!isNonNegativeFinite(policy.factor) || policy.factor < 1)
    throw new InvalidOptionsError(`retry.factor must be a finite number >= 1, got ${String(policy.factor)}`);
  if (!isNonNegativeFinite(policy.maxDelayMs))
    throw new InvalidOptionsError(`retry.maxDelayMs must be a finite number >= 0, got ${String(policy.maxDelayMs)}`);
  return Object.freeze(policy);
}

/** Delay before attempt `failedAttempt + 1`: min(initialDelayMs × factor^(failedAttempt-1), maxDelayMs). */
export function retryDelayMs(policy: Readonly<RetryPolicy>, failedAttempt: number): number {
  const raw = policy.initialDelayMs * policy.factor ** Math.max(0, failedAttempt - 1);
  // Whole milliseconds: the AMQP transport names a delay queue after this number.
  return Math.round(Math.min(raw, policy.maxDelayMs));
}

function isNonNegativeFinite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
