import type { ServiceInstance } from '@switchyard/sdk';
import type { CircuitState } from '../metrics/labels.js';
import type { BalancerName } from '../routing/route-types.js';
import type { Balancer, PickContext } from './balancer.js';
import { createBalancer } from './balancers.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { OutlierDetector, type OutlierEvents } from './outlier-detector.js';
import type { ResolvedPoolOptions } from './pool-options.js';
import { createUpstreamConnections } from './upstream-connections.js';
import { proxyTargetOf, UpstreamInstance, type UpstreamInstanceStats } from './upstream-instance.js';

export interface ServiceUpstreamsDeps {
  readonly options: ResolvedPoolOptions;
  /** A service's instance count changed. */
  readonly onInstances: (service: string, count: number) => void;
  readonly outlierEvents: (service: string) => OutlierEvents;
  readonly onCircuitState: (upstreams: ServiceUpstreams, state: CircuitState) => void;
}

const NOTHING: readonly UpstreamInstance[] = Object.freeze([]);

/**
 * Everything the pool keeps about one service: its instances (built from the registry
 * view's cached list, kept per instance id so load, latency and health survive unrelated
 * changes), one balancer per kind routes ask for, the outlier detector and the circuit
 * breaker. The view hands out the same frozen array until the service changes, so
 * `refresh()` is one comparison per request when nothing changed.
 */
export class ServiceUpstreams {
  readonly name: string;
  readonly outlier: OutlierDetector;
  readonly breaker: CircuitBreaker | undefined;
  /** Route ids that sent requests here: the circuit gauge is per route and target. */
  readonly routes = new Set<string>();
  #instances: readonly UpstreamInstance[] = NOTHING;
  #source: readonly ServiceInstance[] | undefined;
  readonly #balancers = new Map<BalancerName, Balancer>();
  readonly #deps: ServiceUpstreamsDeps;
  readonly #usable: (instance: UpstreamInstance) => boolean;

  constructor(name: string, deps: ServiceUpstreamsDeps) {
    this.name = name;
    this.#deps = deps;
    const o = deps.options;
    this.outlier = new OutlierDetector(o.health, deps.outlierEvents(name));
    this.#usable = (instance) => this.outlier.usable(instance);
    this.breaker = o.circuit ? new CircuitBreaker(o.circuit, (state) => deps.onCircuitState(this, state)) : undefined;
  }

  /** The current instances (those with a usable HTTP address). */
  get instances(): readonly UpstreamInstance[] {
    return this.#instances;
  }

  /** Re-reads the view; rebuilds only when its list for this service is a different array. */
  refresh(): void {
    const source = this.#deps.options.view.instances(this.name);
    if (source === this.#source) return;
    this.#source = source;
    const previous = new Map(this.#instances.map((i) => [i.id, i]));
    const next: UpstreamInstance[] = [];
    for (const record of source) {
      const url = record.address?.http;
      if (url === undefined) continue;
      const old = previous.get(record.id);
      if (old !== undefined && old.url === url) {
        next.push(old);
        continue;
      }
      const target = proxyTargetOf(url);
      if (target === undefined) continue;
      const o = this.#deps.options;
      const connections = createUpstreamConnections(target, o);
      next.push(new UpstreamInstance(record.id, url, target, connections, o.latencyDecayMs));
    }
    const kept = new Set(next);
    for (const old of this.#instances) if (!kept.has(old)) old.retire();
    this.#instances = Object.freeze(next);
    for (const b of this.#balancers.values()) b.update(this.#instances);
    this.#deps.onInstances(this.name, next.length);
  }

  /**
   * An instance for a request: not one in `tried` if another is usable; failing that, not
   * the last one tried (a retry never goes to the instance that just failed). Undefined
   * when nothing qualifies.
   */
  pick(
    balancer: BalancerName,
    hashKey: string | undefined,
    tried: readonly UpstreamInstance[],
  ): UpstreamInstance | undefined {
    const list = this.#instances;
    if (list.length === 0) return undefined;
    let b = this.#balancers.get(balancer);
    if (b === undefined) {
      b = createBalancer(balancer);
      b.update(list);
      this.#balancers.set(balancer, b);
    }
    const ctx: PickContext = { avoid: tried, hashKey, now: performance.now(), usable: this.#usable };
    const chosen = b.pick(list, ctx);
    if (chosen !== undefined || tried.length < 2) return chosen;
    return b.pick(list, { ...ctx, avoid: [tried[tried.length - 1]!] });
  }

  /** The pool closes: cut every instance's connections. */
  destroy(): void {
    for (const i of this.#instances) i.destroy();
  }

  stats(): UpstreamInstanceStats[] {
    const now = performance.now();
    return this.#instances.map((i) => i.stats(now));
  }
}
