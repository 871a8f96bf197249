import { BulkheadFullError } from '@switchyard/broker';
import { type BulkheadPolicy, bulkhead, isBulkheadRejectedError } from 'cockatiel';

/**
 * A cockatiel bulkhead around one method's handlers: at most `maxConcurrent` run at once,
 * `maxQueued` more wait for a slot, and the rest are refused at once with BULKHEAD_FULL
 * (the handler does not run). Keeps one slow method from taking every slot of the service.
 */
export class MethodBulkhead {
  private readonly policy: BulkheadPolicy;

  constructor(
    private readonly label: string,
    readonly maxConcurrent: number,
    readonly maxQueued: number,
  ) {
    this.policy = bulkhead(maxConcurrent, maxQueued);
  }

  /** Handlers running now. */
  get active(): number {
    return this.maxConcurrent - this.policy.executionSlots;
  }

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    // Not async: the policy's promise with one rejection handler made per bulkhead, no frame of ours per call.
    return this.policy.execute(fn).catch(this.onRejected);
  }

  private readonly onRejected = (err: unknown): never => {
    if (isBulkheadRejectedError(err)) {
      throw new BulkheadFullError(
        `${this.label} is already running its maximum of ${this.maxConcurrent} concurrent calls`,
        { details: { maxConcurrent: this.maxConcurrent, maxQueued: this.maxQueued } },
      );
    }
    throw err;
  };
}
