import { checkServiceInstance, type ServiceInstance } from './instance-record.js';
import type { RegistryLogger } from './registry-events.js';

/**
 * Key layout shared by every implementation and every language:
 * `/<namespace>/services/<service>/<instanceId>` holds the instance record as JSON.
 */
export const DEFAULT_REGISTRY_NAMESPACE = 'switchyard';
export const NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function servicesPrefix(namespace: string): string {
  return `/${namespace}/services/`;
}

export function servicePrefix(namespace: string, service: string): string {
  return `${servicesPrefix(namespace)}${service}/`;
}

export function instanceKey(namespace: string, service: string, id: string): string {
  return `${servicePrefix(namespace, service)}${id}`;
}

/** `{ service, id }` for a key under `prefix`, or undefined when the key does not follow the layout. */
export function parseInstanceKey(prefix: string, key: string): { service: string; id: string } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const parts = key.slice(prefix.length).split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { service: parts[0], id: parts[1] };
}

/**
 * Decode one stored entry. Anything wrong — a key outside the layout, bad JSON, a record
 * that fails validation or names another service/id than its key — is logged and
 * yields undefined: a foreign writer's mistake must never break a reader.
 */
export function decodeEntry(
  prefix: string,
  key: string,
  value: string,
  logger: RegistryLogger,
): ServiceInstance | undefined {
  const where = parseInstanceKey(prefix, key);
  if (!where) {
    logger.warn({ key }, 'registry: ignoring a key outside the layout <prefix><service>/<id>');
    return undefined;
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(value);
  } catch {
    logger.warn({ key }, 'registry: ignoring a value that is not JSON');
    return undefined;
  }
  const r = checkServiceInstance(decoded);
  if (!r.ok) {
    logger.warn({ key, violations: r.violations }, 'registry: ignoring an invalid instance record');
    return undefined;
  }
  if (r.instance.service !== where.service || r.instance.id !== where.id) {
    logger.warn(
      { key, service: r.instance.service, id: r.instance.id },
      'registry: ignoring a record whose service/id differ from its key',
    );
    return undefined;
  }
  return r.instance;
}

export function byId(a: ServiceInstance, b: ServiceInstance): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
