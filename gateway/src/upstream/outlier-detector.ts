import type { ResolvedHealthOptions } from './pool-options.js';
import type { UpstreamInstance } from './upstream-instance.js';

/** Told when an instance leaves or rejoins the rotation. */
export interface OutlierEvents {
  ejected(instance: UpstreamInstance, forMs: number): void;
  returned(instance: UpstreamInstance): void;
}

/**
 * Passive health checking of one service's instances, from the outcome of real requests.
 *
 * - `consecutiveFailures` failures in a row eject an instance for `ejectMs`, doubled at
 *   each repeated ejection up to `maxEjectMs` (the count restarts once the instance has
 *   stayed healthy for `maxEjectMs`);
 * - never more than `maxEjectionPercent` of the instances are out at once (rounded down,
 *   so a lone instance is never ejected: the service's circuit breaker is what protects
 *   a service with no healthy instance);
 * - when the ejection ends, the instance is half-open: the next request it is picked for
 *   is its probe and nothing else is sent to it meanwhile; success puts it back in
 *   rotation, failure ejects it again for twice as long.
 *
 * Results of requests that were already in flight when an instance was ejected neither
 * return it nor extend its ejection: only the probe decides.
 */
export class OutlierDetector {
  readonly #o: ResolvedHealthOptions;
  readonly #events: OutlierEvents;
  readonly #clock: () => number;

  constructor(options: ResolvedHealthOptions, events: OutlierEvents, clock: () => number = Date.now) {
    this.#o = options;
    this.#events = events;
    this.#clock = clock;
  }

  /** Whether the instance may take a request now. */
  usable(instance: UpstreamInstance): boolean {
    if (instance.ejectedUntil === 0) return true;
    return !instance.probing && this.#clock() >= instance.ejectedUntil;
  }

  /** The instance was picked; returns true when this request is its half-open probe. */
  picked(instance: UpstreamInstance): boolean {
    if (instance.ejectedUntil === 0) return false;
    instance.probing = true;
    return true;
  }

  /** The probe ended without an answer either way (the client went away): let another request probe. */
  probeAbandoned(instance: UpstreamInstance): void {
    instance.probing = false;
  }

  success(instance: UpstreamInstance, probe: boolean): void {
    instance.consecutiveFailures = 0;
    if (probe && instance.ejectedUntil !== 0) {
      instance.ejectedUntil = 0;
      instance.probing = false;
      instance.returnedAt = this.#clock();
      this.#events.returned(instance);
    }
  }

  /** A failure of `instance`, one of `all` (the service's current instances). */
  failure(instance: UpstreamInstance, probe: boolean, all: readonly UpstreamInstance[]): void {
    instance.consecutiveFailures++;
    if (probe && instance.ejectedUntil !== 0) {
      instance.probing = false;
      this.#eject(instance);
      return;
    }
    if (instance.ejectedUntil !== 0 || instance.consecutiveFailures < this.#o.consecutiveFailures) return;
    if (!all.includes(instance)) return;
    let out = 0;
    for (const other of all) if (other.ejectedUntil !== 0) out++;
    if (out + 1 > Math.floor((all.length * this.#o.maxEjectionPercent) / 100)) return;
    this.#eject(instance);
  }

  #eject(instance: UpstreamInstance): void {
    const now = this.#clock();
    if (instance.returnedAt !== 0 && now - instance.returnedAt >= this.#o.maxEjectMs) instance.ejections = 0;
    instance.ejections++;
    const ms = Math.min(this.#o.ejectMs * 2 ** (instance.ejections - 1), this.#o.maxEjectMs);
    instance.ejectedUntil = now + ms;
    this.#events.ejected(instance, ms);
  }
}
