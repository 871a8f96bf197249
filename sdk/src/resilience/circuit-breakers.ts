import { CircuitOpenError, isSwitchyardError, type SwitchyardError } from '@switchyard/broker';
import { CircuitState, CountBreaker } from 'cockatiel';

/** One breaker per target service. */
export interface CircuitBreakerOptions {
  /** Share of failed calls in the window that opens the circuit, 0-1. Default 0.5. */
  failureRatio: number;
  /** Number of most recent calls looked at. Default 20. */
  window: number;
  /** Calls needed in the window before the circuit may open. Default 10. */
  minimumCalls: number;
  /** How long the circuit stays open before one trial call is let through, ms. Default 5000. */
  halfOpenAfterMs: number;
}

export const DEFAULT_CIRCUIT_BREAKER_OPTIONS: Readonly<CircuitBreakerOptions> = Object.freeze({
  failureRatio: 0.5,
  window: 20,
  minimumCalls: 10,
  halfOpenAfterMs: 5_000,
});

export type CircuitStateName = 'closed' | 'open' | 'half-open' | 'isolated';

const FAILURE_CODES = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'INTERNAL']);

/**
 * Whether a failed call says something about the target's health. Only UNAVAILABLE,
 * DEADLINE_EXCEEDED and INTERNAL (and codes refining them) count; INVALID_ARGUMENT,
 * NOT_FOUND, RESOURCE_EXHAUSTED ... are answers from a healthy service. CLOSED is our own
 * shutdown and CIRCUIT_OPEN the breaker itself: neither is the target's fault. Nor is an
 * interrupted non-idempotent call refused as `redelivered`: a live instance answered it,
 * after another one died. Nor is UNAVAILABLE with `reason: 'disconnected'`: our own link to
 * the broker was down (a broker restart would otherwise open every target's circuit). Counting those would let one dead instance (its in-flight calls
 * all fail at once) open the circuit of a service whose other instances are serving.
 */
export function countsAsFailure(err: Error): boolean {
  return (
    isSwitchyardError(err) &&
    FAILURE_CODES.has(err.canonical) &&
    err.code !== 'CLOSED' &&
    err.code !== 'CIRCUIT_OPEN' &&
    err.details?.reason !== 'redelivered' &&
    err.details?.reason !== 'disconnected'
  );
}

const STATE_NAMES: Record<CircuitState, CircuitStateName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/**
 * Circuit breakers (count-based sliding window), created on first use per target service.
 * An open circuit fails calls at once with CIRCUIT_OPEN, before anything is sent.
 *
 * The window is cockatiel's CountBreaker; the states around it are cockatiel's
 * CircuitBreakerPolicy's, kept here so that a call through a closed circuit costs one
 * `then` with handlers made once per target: the policy's `execute` wraps every call in
 * two async functions, an argument array and two result objects.
 */
export class CircuitBreakers {
  private readonly breakers = new Map<string, TargetBreaker>();

  constructor(
    private readonly options: Readonly<CircuitBreakerOptions>,
    private readonly onStateChange?: (service: string, state: CircuitStateName) => void,
  ) {}

  /** Run `fn` through the breaker of `service`. */
  run<T>(service: string, fn: () => Promise<T>): Promise<T> {
    return (this.breakers.get(service) ?? this.create(service)).run(fn);
  }

  state(service: string): CircuitStateName {
    const entry = this.breakers.get(service);
    return entry ? STATE_NAMES[entry.state] : 'closed';
  }

  private create(service: string): TargetBreaker {
    const entry = new TargetBreaker(service, this.options, this.onStateChange);
    this.breakers.set(service, entry);
    return entry;
  }
}

/**
 * The breaker of one target. Closed: every call runs; its outcome is sampled (counted
 * failures and successes; other errors are answers and not sampled) and the circuit
 * opens when the window says so. Open: calls fail at once until `halfOpenAfterMs` has
 * passed; the next call is then the half-open trial, and calls arriving during the trial
 * wait for its outcome and go again. The trial's success or uncounted error closes the
 * circuit (a success also empties the window); a counted failure opens it again.
 */
class TargetBreaker {
  state: CircuitState = CircuitState.Closed;
  private openedAt = 0;
  private trial: Promise<unknown> | undefined;
  private readonly window: CountBreaker;
  // Made once per target: a closed-circuit call allocates no closure of its own.
  private readonly onSuccess = <T>(value: T): T => {
    this.window.success(CircuitState.Closed);
    return value;
  };
  private readonly onFailure = (err: unknown): never => {
    if (countsAsFailure(err as Error) && this.window.failure(CircuitState.Closed)) this.open();
    throw err;
  };

  constructor(
    private readonly service: string,
    private readonly options: Readonly<CircuitBreakerOptions>,
    private readonly notify: ((service: string, state: CircuitStateName) => void) | undefined,
  ) {
    this.window = new CountBreaker({
      threshold: options.failureRatio,
      size: options.window,
      minimumNumberOfCalls: options.minimumCalls,
    });
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    switch (this.state) {
      case CircuitState.Closed:
        return invoke(fn).then(this.onSuccess, this.onFailure);
      case CircuitState.HalfOpen:
        return (this.trial ?? Promise.resolve()).then(
          () => this.run(fn),
          () => this.run(fn),
        );
      default:
        if (Date.now() - this.openedAt < this.options.halfOpenAfterMs) return Promise.reject(this.openError());
        return this.halfOpen(fn);
    }
  }

  private halfOpen<T>(fn: () => Promise<T>): Promise<T> {
    const trial = invoke(fn).then(
      (value) => {
        this.window.success(CircuitState.HalfOpen);
        this.close();
        return value;
      },
      (err: unknown) => {
        if (countsAsFailure(err as Error)) {
          this.window.failure(CircuitState.HalfOpen);
          this.open();
        } else {
          // Not a failure of the target: it answered.
          this.close();
        }
        throw err;
      },
    );
    this.trial = trial;
    this.set(CircuitState.HalfOpen);
    return trial;
  }

  private open(): void {
    if (this.state === CircuitState.Open) return;
    this.openedAt = Date.now();
    this.trial = undefined;
    this.set(CircuitState.Open);
  }

  private close(): void {
    if (this.state !== CircuitState.HalfOpen) return;
    this.trial = undefined;
    this.set(CircuitState.Closed);
  }

  private set(state: CircuitState): void {
    this.state = state;
    this.notify?.(this.service, STATE_NAMES[state]);
  }

  private openError(): SwitchyardError {
    return new CircuitOpenError(`the circuit to "${this.service}" is open: too many recent calls failed`, {
      details: { service: this.service },
    });
  }
}

/** `fn()` as a promise, a synchronous throw included. */
function invoke<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}
