import type { Balancer, PickContext } from './balancer.js';
import { eligible } from './balancer.js';
import type { UpstreamInstance } from './upstream-instance.js';

/**
 * Relative difference under which two latencies count as equal: averages of similar
 * instances differ by noise, and then requests in flight are the better signal.
 */
export const LATENCY_TIE_RATIO = 0.1;

/**
 * Power of two choices: two distinct random instances, the one with the lower recent
 * latency (decayed peak EWMA of time to response headers) wins; when their latencies are
 * within 10% of each other, the one with fewer requests in flight. Two random choices
 * avoid the herd a "fastest instance" rule sends to one instance, at O(1) cost.
 */
export class P2cLatencyBalancer implements Balancer {
  readonly name = 'p2c-latency' as const;
  readonly #random: () => number;

  /** `random` is injectable for tests. */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  update(): void {}

  pick(instances: readonly UpstreamInstance[], ctx: PickContext): UpstreamInstance | undefined {
    const n = instances.length;
    if (n === 0) return undefined;
    if (n === 1) return eligible(instances[0]!, ctx) ? instances[0] : undefined;
    const i = Math.floor(this.#random() * n);
    let j = Math.floor(this.#random() * (n - 1));
    if (j >= i) j++;
    const a = instances[i]!;
    const b = instances[j]!;
    if (eligible(a, ctx) && eligible(b, ctx)) return this.#better(a, b, ctx.now);
    // Some instances are out (ejected, already tried): choose among the rest.
    const rest = instances.filter((x) => eligible(x, ctx));
    if (rest.length <= 1) return rest[0];
    const k = Math.floor(this.#random() * rest.length);
    let l = Math.floor(this.#random() * (rest.length - 1));
    if (l >= k) l++;
    return this.#better(rest[k]!, rest[l]!, ctx.now);
  }

  #better(a: UpstreamInstance, b: UpstreamInstance, now: number): UpstreamInstance {
    const la = a.latency(now);
    const lb = b.latency(now);
    if (Math.abs(la - lb) <= LATENCY_TIE_RATIO * Math.max(la, lb)) {
      // `a` is the first random choice: a full tie stays a fair coin.
      return b.outstanding < a.outstanding ? b : a;
    }
    return la < lb ? a : b;
  }
}
