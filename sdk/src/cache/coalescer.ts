/**
 * One loader run per key at a time: the first miss starts it, later misses of the same
 * key wait for the same promise. The entry is dropped when it settles, so a failure is not
 * remembered (the next miss tries again).
 */
export class Coalescer {
  readonly #inFlight = new Map<string, Promise<unknown>>();

  run<T>(key: string, load: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running) return running as Promise<T>;
    const p = load().finally(() => {
      this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, p);
    return p;
  }

  get size(): number {
    return this.#inFlight.size;
  }
}
