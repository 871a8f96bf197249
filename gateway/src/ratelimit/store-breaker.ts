/**
 * Stops calling a store that keeps failing. Without it, a frozen Redis (socket open,
 * nothing answering) costs every request the full store timeout, and every timed-out
 * command stays queued in the client until Redis answers. After `threshold` consecutive
 * failures the store is skipped for `cooldownMs` (checks go straight to the failure
 * mode); then one check probes it, and a success closes the breaker again.
 *
 * Shared by every route of a rate limiter: the store is down for all of them at once.
 */
export class StoreBreaker {
  readonly threshold: number;
  readonly cooldownMs: number;
  #failures = 0;
  #openUntil = 0;
  #probing = false;

  constructor(threshold: number, cooldownMs: number) {
    this.threshold = threshold;
    this.cooldownMs = cooldownMs;
  }

  /** Whether the next check may call the store. */
  allow(): boolean {
    if (this.#failures < this.threshold) return true;
    if (this.#probing || performance.now() < this.#openUntil) return false;
    this.#probing = true;
    return true;
  }

  /** The store answered (a "limited" answer is an answer). */
  success(): void {
    this.#failures = 0;
    this.#probing = false;
  }

  failure(): void {
    this.#failures++;
    this.#probing = false;
    if (this.#failures >= this.threshold) this.#openUntil = performance.now() + this.cooldownMs;
  }

  get open(): boolean {
    return this.#failures >= this.threshold;
  }
}
