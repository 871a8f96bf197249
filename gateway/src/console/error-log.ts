import { toSwitchyardError } from '@switchyard/broker';
import { httpStatusOf } from '../http/error-status.js';

/** One error the gateway answered with. */
export interface RecentError {
  /** Epoch ms. */
  readonly at: number;
  readonly code: string;
  readonly status: number;
  readonly route: string | undefined;
  readonly message: string;
  readonly requestId: string | undefined;
}

export interface ErrorSummary {
  /** Errors since start, by code. */
  readonly byCode: Readonly<Record<string, number>>;
  /** The latest ones, newest first. */
  readonly recent: readonly RecentError[];
}

/**
 * The errors the gateway itself turned into responses, for the console: counts by code
 * since start and a bounded ring of the latest. O(1) per error and fixed memory, so it
 * can sit on the request path.
 */
export class ErrorLog {
  readonly #ring: (RecentError | undefined)[];
  #next = 0;
  readonly #byCode = new Map<string, number>();
  readonly #listeners = new Set<() => void>();

  constructor(size: number) {
    this.#ring = new Array(size);
  }

  record(thrown: unknown, route: string | undefined, requestId: string | undefined): void {
    const err = toSwitchyardError(thrown);
    this.#byCode.set(err.code, (this.#byCode.get(err.code) ?? 0) + 1);
    this.#ring[this.#next] = {
      at: Date.now(),
      code: err.code,
      status: httpStatusOf(err.code),
      route,
      // Non-Switchyard errors may carry internals: the client never saw their text, nor does the console.
      message: err.canonical === 'INTERNAL' ? 'internal error' : err.message.slice(0, 500),
      requestId,
    };
    this.#next = (this.#next + 1) % this.#ring.length;
    for (const l of this.#listeners) l();
  }

  summary(): ErrorSummary {
    const recent: RecentError[] = [];
    for (let i = 1; i <= this.#ring.length; i++) {
      const e = this.#ring[(this.#next - i + this.#ring.length) % this.#ring.length];
      if (e !== undefined) recent.push(e);
    }
    return { byCode: Object.fromEntries(this.#byCode), recent };
  }

  /** Called after each error. Returns an unsubscribe function. */
  onError(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
