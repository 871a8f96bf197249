import type { Balancer, PickContext } from './balancer.js';
import { eligible } from './balancer.js';
import { RoundRobinBalancer } from './round-robin.js';
import { hash32 } from './string-hash.js';
import type { UpstreamInstance } from './upstream-instance.js';

/** Points per instance on the ring: enough for an even spread (a few % deviation) with few instances. */
export const DEFAULT_VIRTUAL_NODES = 160;

/**
 * Consistent hashing on a request header (a ring with virtual nodes, as ketama): the
 * same value lands on the same instance while the instance set is unchanged, and when an
 * instance leaves only the values it held move (to the next instance on the ring); the
 * others stay put. Ring points are hashed from instance ids, so the ring depends only on
 * which instances exist, not on their order or on this gateway (two gateways agree).
 *
 * An instance that may not take the request (ejected, already tried) is skipped the same
 * way: its values go to the next instance clockwise while it is out. Without the header
 * the request is balanced round-robin.
 */
export class ConsistentHashBalancer implements Balancer {
  readonly name = 'consistent-hash' as const;
  readonly #virtualNodes: number;
  readonly #fallback = new RoundRobinBalancer();
  #points = new Uint32Array(0);
  /** Instance index (into the list given to update) of each point. */
  #owners = new Uint32Array(0);
  #list: readonly UpstreamInstance[] = [];

  constructor(virtualNodes = DEFAULT_VIRTUAL_NODES) {
    this.#virtualNodes = virtualNodes;
  }

  update(instances: readonly UpstreamInstance[]): void {
    this.#fallback.update(instances);
    this.#list = instances;
    const entries: { point: number; owner: number }[] = [];
    for (let owner = 0; owner < instances.length; owner++) {
      const id = instances[owner]!.id;
      for (let v = 0; v < this.#virtualNodes; v++) entries.push({ point: hash32(`${id}#${v}`), owner });
    }
    // Ties (two instances on one point) are broken by id so every gateway builds the same ring.
    entries.sort((x, y) => x.point - y.point || compare(instances[x.owner]!.id, instances[y.owner]!.id));
    this.#points = Uint32Array.from(entries, (e) => e.point);
    this.#owners = Uint32Array.from(entries, (e) => e.owner);
  }

  pick(instances: readonly UpstreamInstance[], ctx: PickContext): UpstreamInstance | undefined {
    if (ctx.hashKey === undefined) return this.#fallback.pick(instances, ctx);
    if (instances !== this.#list) this.update(instances);
    const points = this.#points;
    const size = points.length;
    if (size === 0) return undefined;
    const h = hash32(ctx.hashKey);
    // First point >= h, wrapping to 0.
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < size; i++) {
      const instance = instances[this.#owners[(lo + i) % size]!]!;
      if (eligible(instance, ctx)) return instance;
    }
    return undefined;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
