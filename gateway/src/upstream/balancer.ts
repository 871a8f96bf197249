import type { BalancerName } from '../routing/route-types.js';
import type { UpstreamInstance } from './upstream-instance.js';

/** What a balancer needs to know about one pick. */
export interface PickContext {
  /** Instances not to pick (already tried by this request). Usually empty. */
  readonly avoid: readonly UpstreamInstance[];
  /** The value of the route's hash header; undefined when absent (consistent-hash only). */
  readonly hashKey: string | undefined;
  /** performance.now(), for latency decay. */
  readonly now: number;
  /** Whether an instance may take a request now (not ejected, or its probe slot is free). */
  readonly usable: (instance: UpstreamInstance) => boolean;
}

/**
 * Picks one instance of a service for a request. One balancer object per service and
 * balancer kind; it keeps its state (a counter, a hash ring) between requests and is told
 * when the service's instance list changes. `pick` gets that same list and returns an
 * instance that is usable and not avoided, or undefined when there is none.
 */
export interface Balancer {
  readonly name: BalancerName;
  /** The instance list changed; `instances` is what later picks receive. */
  update(instances: readonly UpstreamInstance[]): void;
  pick(instances: readonly UpstreamInstance[], ctx: PickContext): UpstreamInstance | undefined;
}

/** Whether `instance` may be picked in `ctx`. */
export function eligible(instance: UpstreamInstance, ctx: PickContext): boolean {
  return (ctx.avoid.length === 0 || !ctx.avoid.includes(instance)) && ctx.usable(instance);
}
