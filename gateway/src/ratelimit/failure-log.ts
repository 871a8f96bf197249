/** The slice of a pino logger the rate limiter uses; pino's Logger fits. */
export interface RateLimitLogger {
  warn(obj: object, msg?: string): void;
}

/** Default gap between two log lines about the same ongoing failure. */
export const DEFAULT_FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * Logs a failure that repeats on every request (a Redis outage at 10k req/s) as one
 * line, then at most one line per interval carrying how many were not logged.
 */
export class ThrottledFailureLog {
  readonly #logger: RateLimitLogger | undefined;
  readonly #intervalMs: number;
  #lastAt = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(logger: RateLimitLogger | undefined, intervalMs = DEFAULT_FAILURE_LOG_INTERVAL_MS) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  report(fields: Record<string, unknown>, msg: string): void {
    if (!this.#logger) return;
    const now = performance.now();
    if (now - this.#lastAt < this.#intervalMs) {
      this.#suppressed++;
      return;
    }
    const suppressed = this.#suppressed;
    this.#lastAt = now;
    this.#suppressed = 0;
    this.#logger.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }
}
