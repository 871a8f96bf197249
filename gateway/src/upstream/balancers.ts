import type { BalancerName } from '../routing/route-types.js';
import type { Balancer } from './balancer.js';
import { ConsistentHashBalancer } from './consistent-hash.js';
import { LeastOutstandingBalancer } from './least-outstanding.js';
import { P2cLatencyBalancer } from './p2c-latency.js';
import { RoundRobinBalancer } from './round-robin.js';

/** A fresh balancer of the named kind (one per service and kind). */
export function createBalancer(name: BalancerName): Balancer {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer();
    case 'least-outstanding':
      return new LeastOutstandingBalancer();
    case 'p2c-latency':
      return new P2cLatencyBalancer();
    case 'consistent-hash':
      return new ConsistentHashBalancer();
  }
}
