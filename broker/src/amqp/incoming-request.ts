/**
 * A request as an AMQP server's handler sees it (`IncomingRequest`), with its deadline
 * and abort signal.
 */
import { DeadlineExceededError } from '../errors.js';
import type { Headers, IncomingRequest } from '../transport.js';

/**
 * The AbortController (and its deadline timer) is
 * made only when the handler reads `signal`: most handlers never do.
 */
export class Request implements IncomingRequest {
  input: AsyncIterableIterator<unknown> | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(
    readonly id: string,
    readonly service: string,
    readonly method: string,
    readonly payload: unknown,
    readonly headers: Headers,
    readonly contentType: string,
    readonly deadline: number | undefined,
    readonly redelivered: boolean,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.deadline !== undefined && !this.disposed) {
        const left = this.deadline - Date.now();
        if (left <= 0) this.controller.abort(new DeadlineExceededError('deadline passed'));
        else this.timer = setTimeout(Request.onDeadline, left, this);
      }
    }
    return this.controller.signal;
  }

  private static onDeadline(req: Request): void {
    req.abort(new DeadlineExceededError('deadline passed'));
  }

  /**
   * The deadline passed, by the clock or by the deadline timer (which can fire a
   * millisecond before Date.now() reaches the deadline).
   */
  missedDeadline(): boolean {
    if (this.deadline === undefined) return false;
    return Date.now() >= this.deadline || this.controller?.signal.reason instanceof DeadlineExceededError;
  }

  abort(reason: Error): void {
    const signal = this.signal;
    if (!signal.aborted) this.controller!.abort(reason);
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
  }
}
