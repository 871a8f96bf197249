import type { CircuitState } from '../metrics/labels.js';
import type { ResolvedCircuitOptions } from './pool-options.js';

/** What `admit()` answers: go ahead (as the half-open trial or not), or retry after so many ms. */
export type Admission = { ok: true; trial: boolean } | { ok: false; retryAfterMs: number };

const NORMAL: Admission = Object.freeze({ ok: true, trial: false });
const TRIAL: Admission = Object.freeze({ ok: true, trial: true });

/**
 * The circuit breaker of one service, fed with the final outcome of each request (after
 * retries: a failure the retry rescued says the service works). Closed: the last
 * `window` outcomes are kept in a ring; once at least `minimumCalls` are in it and the
 * failed share reaches `failureRatio`, it opens. Open: requests fail at once for
 * `halfOpenAfterMs`. Then half-open: one trial request goes through; success closes it
 * (with an empty window), failure opens it again.
 *
 * Our own, not cockatiel's: cockatiel wraps each call in a promise-returning function,
 * and the proxy's hot path is callback-driven; this is a few array writes per request.
 */
export class CircuitBreaker {
  readonly #o: ResolvedCircuitOptions;
  readonly #onChange: (state: CircuitState) => void;
  readonly #clock: () => number;
  readonly #ring: Uint8Array;
  #size = 0;
  #next = 0;
  #failures = 0;
  #state: CircuitState = 'closed';
  #openUntil = 0;
  #trialInFlight = false;

  constructor(options: ResolvedCircuitOptions, onChange: (state: CircuitState) => void, clock = Date.now) {
    this.#o = options;
    this.#onChange = onChange;
    this.#clock = clock;
    this.#ring = new Uint8Array(options.window);
  }

  get state(): CircuitState {
    return this.#state;
  }

  admit(): Admission {
    if (this.#state === 'closed') return NORMAL;
    const now = this.#clock();
    if (this.#state === 'open') {
      if (now < this.#openUntil) return { ok: false, retryAfterMs: this.#openUntil - now };
      this.#set('half-open');
    }
    if (this.#trialInFlight) return { ok: false, retryAfterMs: this.#o.halfOpenAfterMs };
    this.#trialInFlight = true;
    return TRIAL;
  }

  /** The outcome of an admitted request. */
  record(success: boolean, trial: boolean): void {
    if (trial) {
      this.#trialInFlight = false;
      if (success) this.#close();
      else this.#open();
      return;
    }
    // Outcomes of requests admitted before the circuit opened say nothing new.
    if (this.#state !== 'closed') return;
    const ring = this.#ring;
    if (this.#size === ring.length) this.#failures -= ring[this.#next]!;
    else this.#size++;
    const bit = success ? 0 : 1;
    ring[this.#next] = bit;
    this.#failures += bit;
    this.#next = this.#next + 1 === ring.length ? 0 : this.#next + 1;
    if (bit === 1 && this.#size >= this.#o.minimumCalls && this.#failures >= this.#o.failureRatio * this.#size) {
      this.#open();
    }
  }

  /** An admitted request ended without an outcome (the client went away). */
  abandon(trial: boolean): void {
    if (trial) this.#trialInFlight = false;
  }

  #open(): void {
    this.#openUntil = this.#clock() + this.#o.halfOpenAfterMs;
    this.#set('open');
  }

  #close(): void {
    this.#ring.fill(0);
    this.#size = 0;
    this.#next = 0;
    this.#failures = 0;
    this.#set('closed');
  }

  #set(state: CircuitState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#onChange(state);
  }
}
