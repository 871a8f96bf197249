/**
 * The two routes of the chaos run, written to the private etcd as the CLI would
 * (`/<namespace>/routes/<id>`, one JSON document each). Both are rate-limited per IP with
 * a limit the load never reaches, so every request asks Redis (and the Redis fault
 * matters) without ever being refused with 429. Retries, timeouts and health checks are
 * the gateway's defaults: the run measures what an operator gets without tuning.
 */
import { routeKey } from '@switchyard/gateway';
import { Etcd3 } from 'etcd3';

const RATE_LIMIT = { points: 10_000_000, durationSeconds: 60, key: 'ip' } as const;

export const ROUTES = [
  {
    id: 'chaos-http',
    description: 'HTTP proxy to a catalog instance (GET: idempotent, retried on another instance)',
    match: { path: '/api/items/*', methods: ['GET'] },
    target: { type: 'http', service: 'catalog', stripPrefix: '/api' },
    auth: { mode: 'off' },
    rateLimit: RATE_LIMIT,
    timeoutMs: 3000,
  },
  {
    id: 'chaos-rpc',
    description: 'HTTP to the idempotent RPC method catalog.lookup',
    match: { path: '/api/lookup', methods: ['POST'] },
    target: { type: 'rpc', service: 'catalog', method: 'lookup' },
    auth: { mode: 'off' },
    rateLimit: RATE_LIMIT,
    timeoutMs: 3000,
  },
] as const;

export async function putRoutes(endpoint: string, namespace: string): Promise<void> {
  const client = new Etcd3({ hosts: endpoint });
  try {
    for (const route of ROUTES) await client.put(routeKey(namespace, route.id)).value(JSON.stringify(route));
  } finally {
    client.close();
  }
}
