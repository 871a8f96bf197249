import type { Balancer, PickContext } from './balancer.js';
import { eligible } from './balancer.js';
import type { UpstreamInstance } from './upstream-instance.js';

/** Instances in turn, skipping those that may not take the request. */
export class RoundRobinBalancer implements Balancer {
  readonly name = 'round-robin' as const;
  #next = 0;

  update(instances: readonly UpstreamInstance[]): void {
    if (this.#next >= instances.length) this.#next = 0;
  }

  pick(instances: readonly UpstreamInstance[], ctx: PickContext): UpstreamInstance | undefined {
    const n = instances.length;
    for (let i = 0; i < n; i++) {
      const index = this.#next;
      this.#next = index + 1 >= n ? 0 : index + 1;
      const instance = instances[index]!;
      if (eligible(instance, ctx)) return instance;
    }
    return undefined;
  }
}
