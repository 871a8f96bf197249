import cluster from 'node:cluster';
import { InvalidOptionsError } from '@switchyard/broker';
import { RateLimiterCluster, RateLimiterClusterMaster } from 'rate-limiter-flexible';
import type { LimiterSpec, RateLimitStore, StoreLimiter } from './store.js';

export interface ClusterRateLimitStoreOptions {
  /** Bound on one round trip to the primary, ms. Default 250. */
  timeoutMs?: number;
}

export const DEFAULT_CLUSTER_TIMEOUT_MS = 250;

/**
 * Counters held by the node cluster primary and shared by all its workers: one machine,
 * several gateway processes, one limit. Workers ask the primary over the cluster IPC
 * channel, so the primary must have called `setupClusterRateLimitMaster()` before it
 * forked them. If it did not, or it is too busy, every call times out and the rate
 * limiter's failure mode decides.
 *
 * Limiters are never discarded here: rate-limiter-flexible's cluster worker keeps a
 * process 'message' listener per limiter. The rate limiter only builds one per route
 * and policy, so this grows only when route policies change.
 */
export class ClusterRateLimitStore implements RateLimitStore {
  readonly kind = 'cluster';
  readonly remote = true;
  readonly #timeoutMs: number;

  constructor(options: ClusterRateLimitStoreOptions = {}) {
    if (!cluster.isWorker) {
      throw new InvalidOptionsError(
        'store: the cluster rate limit store only works in a cluster worker; call setupClusterRateLimitMaster() in the primary',
      );
    }
    const t = options.timeoutMs ?? DEFAULT_CLUSTER_TIMEOUT_MS;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) {
      throw new InvalidOptionsError(`timeoutMs: must be a positive number of milliseconds, got ${JSON.stringify(t)}`);
    }
    this.#timeoutMs = t;
  }

  createLimiter(spec: LimiterSpec): StoreLimiter {
    // The primary keeps one limiter per keyPrefix, created with the options of the first
    // worker that asks: the policy must be in the prefix, or a changed policy is ignored.
    return new RateLimiterCluster({
      keyPrefix: spec.name,
      points: spec.points,
      duration: spec.durationSeconds,
      blockDuration: spec.blockSeconds,
      timeoutMs: this.#timeoutMs,
    });
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * Call once in the cluster primary, before forking workers that use
 * ClusterRateLimitStore: it answers their rate-limit calls. Idempotent.
 */
export function setupClusterRateLimitMaster(): void {
  if (!cluster.isPrimary) {
    throw new InvalidOptionsError('setupClusterRateLimitMaster: call it in the cluster primary, not in a worker');
  }
  // rate-limiter-flexible keeps a single instance per process: a second call returns it.
  new RateLimiterClusterMaster();
}
