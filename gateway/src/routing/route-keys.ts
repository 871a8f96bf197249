/**
 * etcd key layout of routes: `/<namespace>/routes/<id>` holds one route as JSON. The
 * namespace is shared with the service registry (`/<namespace>/services/...`).
 */
export const DEFAULT_ROUTES_NAMESPACE = 'switchyard';
/** Same rule as the registry's namespaces: one etcd key segment. */
export const ROUTES_NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function routesPrefix(namespace: string): string {
  return `/${namespace}/routes/`;
}

export function routeKey(namespace: string, id: string): string {
  return `${routesPrefix(namespace)}${id}`;
}

/** The route id of a key under `prefix`, or undefined when the key does not follow the layout. */
export function routeIdOfKey(prefix: string, key: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const id = key.slice(prefix.length);
  return id === '' || id.includes('/') ? undefined : id;
}
