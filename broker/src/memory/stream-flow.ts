/**
 * Server-side flow control of one stream (docs/protocol.md §5): the server may send
 * `window` items beyond what the caller granted, then waits for credit. It stops for
 * good when the signal aborts (deadline, caller cancel, hard close).
 */

export const STOPPED: unique symbol = Symbol('stopped');

export class StreamFlow {
  private credit: number;
  private wake: (() => void) | undefined;
  /**
   * Settles the one race() in flight with STOPPED. Not a shared "stopped" promise raced
   * with Promise.race: that adds a reaction to it per item, kept until the stream ends,
   * so a long stream's memory grew with every item (the same fix as bidi-session.ts).
   */
  private stopWaiter: ((v: typeof STOPPED) => void) | undefined;
  private isStopped = false;

  constructor(window: number, signal: AbortSignal) {
    this.credit = window;
    const stop = () => {
      this.isStopped = true;
      const w = this.stopWaiter;
      this.stopWaiter = undefined;
      w?.(STOPPED);
      this.wake?.();
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  }

  get stoppedNow(): boolean {
    return this.isStopped;
  }

  grant(n: number): void {
    if (!Number.isInteger(n) || n <= 0) return;
    this.credit += n;
    this.wake?.();
  }

  spend(): void {
    this.credit--;
  }

  /** Resolves true when there is credit to send one item, false once stopped. */
  async waitForCredit(): Promise<boolean> {
    while (this.credit <= 0 && !this.isStopped) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    return !this.isStopped;
  }

  /** `work`'s result, or STOPPED if the flow stops first (then `work`'s outcome is ignored). */
  race<T>(work: Promise<T>): Promise<T | typeof STOPPED> {
    work.catch(() => {});
    if (this.isStopped) return Promise.resolve(STOPPED);
    return new Promise<T | typeof STOPPED>((resolve, reject) => {
      this.stopWaiter = resolve;
      work.then(
        (v) => {
          if (this.stopWaiter === resolve) this.stopWaiter = undefined;
          resolve(v);
        },
        (err: unknown) => {
          if (this.stopWaiter === resolve) this.stopWaiter = undefined;
          reject(err);
        },
      );
    });
  }
}
