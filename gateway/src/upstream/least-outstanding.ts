import type { Balancer, PickContext } from './balancer.js';
import { eligible } from './balancer.js';
import type { UpstreamInstance } from './upstream-instance.js';

/**
 * The instance with the fewest requests in flight from this gateway. The scan starts at
 * a rotating position, so ties (all idle, at low load) are spread in turn instead of all
 * landing on the first instance.
 */
export class LeastOutstandingBalancer implements Balancer {
  readonly name = 'least-outstanding' as const;
  #start = 0;

  update(instances: readonly UpstreamInstance[]): void {
    if (this.#start >= instances.length) this.#start = 0;
  }

  pick(instances: readonly UpstreamInstance[], ctx: PickContext): UpstreamInstance | undefined {
    const n = instances.length;
    const start = this.#start;
    this.#start = start + 1 >= n ? 0 : start + 1;
    let best: UpstreamInstance | undefined;
    for (let i = 0; i < n; i++) {
      const instance = instances[(start + i) % n]!;
      if ((best === undefined || instance.outstanding < best.outstanding) && eligible(instance, ctx)) {
        best = instance;
        if (best.outstanding === 0) break;
      }
    }
    return best;
  }
}
