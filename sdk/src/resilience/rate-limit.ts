import { InternalError, RateLimitedError } from '@switchyard/broker';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** A server-side limit on how often one method runs. */
export interface RateLimitOptions {
  /** Calls allowed per window. Required. */
  points: number;
  /** Window length, seconds. Default 1. */
  durationSeconds: number;
  /** Count each caller (`x-caller`) separately instead of all callers together. Default false. */
  perCaller: boolean;
}

/**
 * rate-limiter-flexible's in-memory limiter for one method of one instance (limits are
 * per instance: N instances allow N times the points). A call over the limit is refused
 * with RATE_LIMITED and `details.retryAfterMs`; the handler does not run.
 */
export class MethodRateLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(
    private readonly label: string,
    private readonly options: Readonly<RateLimitOptions>,
  ) {
    this.limiter = new RateLimiterMemory({ points: options.points, duration: options.durationSeconds });
  }

  async take(caller: string | undefined): Promise<void> {
    const key = this.options.perCaller ? (caller ?? '-') : '*';
    try {
      await this.limiter.consume(key);
    } catch (res) {
      // The memory store cannot fail, but a rejection that is not a RateLimiterRes is a bug, not a limit.
      if (!(res instanceof RateLimiterRes)) throw new InternalError('rate limiter failed', { cause: res });
      throw new RateLimitedError(
        `${this.label} allows ${this.options.points} calls per ${this.options.durationSeconds} s`,
        { details: { retryAfterMs: res.msBeforeNext, limit: this.options.points } },
      );
    }
  }
}
