import { CancelledError } from '@switchyard/broker';
import { decorrelatedJitterGenerator, ExponentialBackoff, type IBackoff, type IBackoffFactory } from 'cockatiel';
import type { RetryOptions } from './retry-policy.js';

export interface RetryControl {
  options: RetryOptions;
  /** Absolute deadline (ms since the epoch): no retry is started that could not finish before it. */
  deadline: number;
  /** Whether this failure may be retried. */
  shouldRetry: (err: unknown) => boolean;
  signal?: AbortSignal | undefined;
  /** Called before each retry (for logs and tests). */
  onRetry?: ((err: unknown, attempt: number, delayMs: number) => void) | undefined;
}

const neverAborted = new AbortController().signal;

/** Cockatiel's exponential backoff with decorrelated jitter, bounded by the options. */
export function retryBackoff(options: RetryOptions): IBackoffFactory<unknown> {
  return new ExponentialBackoff({
    generator: decorrelatedJitterGenerator,
    initialDelay: options.initialDelayMs,
    maxDelay: options.maxDelayMs,
    exponent: 2,
  });
}

/**
 * The retry loop, entered only after a first attempt failed, so a call that succeeds at
 * once pays nothing for it. Delays come from cockatiel's backoff; the loop itself is ours
 * because cockatiel's RetryPolicy can neither stop at a per-call deadline nor cut a delay
 * short when the caller aborts, and both matter here: a retry must never outlive the
 * deadline the first caller set.
 */
export async function retryAfterFailure<T>(
  firstError: unknown,
  run: () => Promise<T>,
  control: RetryControl,
  backoffFactory: IBackoffFactory<unknown> = retryBackoff(control.options),
): Promise<T> {
  let err = firstError;
  let backoff: IBackoff<unknown> | undefined;
  const signal = control.signal ?? neverAborted;
  for (let attempt = 2; attempt <= control.options.attempts; attempt++) {
    if (!control.shouldRetry(err)) throw err;
    const context = { attempt: attempt - 1, signal, result: { error: err as Error } };
    backoff = backoff ? backoff.next(context) : backoffFactory.next(context);
    const delay = Math.round(backoff.duration);
    // The attempt after the delay needs some time of its own before the deadline.
    if (Date.now() + delay + 1 >= control.deadline) throw err;
    control.onRetry?.(err, attempt, delay);
    await sleep(delay, signal);
    // Timers fire late under load: an attempt that would start at or after the deadline is not made.
    if (Date.now() >= control.deadline) throw err;
    try {
      return await run();
    } catch (e) {
      err = e;
    }
  }
  throw err;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new CancelledError('call cancelled by the caller'));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError('call cancelled by the caller'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
