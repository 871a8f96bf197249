import { CircuitOpenError, isSwitchyardError } from '@switchyard/broker';
import {
  type CircuitBreakerPolicy,
  CircuitState,
  CountBreaker,
  circuitBreaker,
  handleWhen,
  isBrokenCircuitError,
  isIsolatedCircuitError,
} from 'cockatiel';

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
 * Cockatiel circuit breakers (count-based sliding window), created on first use per target
 * service. An open circuit fails calls at once with CIRCUIT_OPEN, before anything is sent.
 */
export class CircuitBreakers {
  private readonly breakers = new Map<string, { policy: CircuitBreakerPolicy; onError: (err: unknown) => never }>();

  constructor(
    private readonly options: Readonly<CircuitBreakerOptions>,
    private readonly onStateChange?: (service: string, state: CircuitStateName) => void,
  ) {}

  /** Run `fn` through the breaker of `service`. */
  run<T>(service: string, fn: () => Promise<T>): Promise<T> {
    const entry = this.breakers.get(service) ?? this.create(service);
    // One rejection handler per target, made once: no async frame or closure per call.
    return entry.policy.execute(fn).catch(entry.onError);
  }

  state(service: string): CircuitStateName {
    const entry = this.breakers.get(service);
    return entry ? STATE_NAMES[entry.policy.state] : 'closed';
  }

  private create(service: string): { policy: CircuitBreakerPolicy; onError: (err: unknown) => never } {
    const o = this.options;
    const breaker = circuitBreaker(handleWhen(countsAsFailure), {
      halfOpenAfter: o.halfOpenAfterMs,
      breaker: new CountBreaker({ threshold: o.failureRatio, size: o.window, minimumNumberOfCalls: o.minimumCalls }),
    });
    if (this.onStateChange) {
      const notify = this.onStateChange;
      breaker.onStateChange((state) => notify(service, STATE_NAMES[state]));
    }
    const entry = {
      policy: breaker,
      onError: (err: unknown): never => {
        if (isBrokenCircuitError(err) || isIsolatedCircuitError(err)) {
          throw new CircuitOpenError(`the circuit to "${service}" is open: too many recent calls failed`, {
            details: { service },
          });
        }
        throw err;
      },
    };
    this.breakers.set(service, entry);
    return entry;
  }
}
