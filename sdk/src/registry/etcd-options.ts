import { InvalidOptionsError } from '@switchyard/broker';
import type { EtcdTlsOptions } from './etcd-client.js';
import { DEFAULT_REGISTRY_NAMESPACE, NAMESPACE_PATTERN } from './keys.js';
import { isLogger, silentLogger } from './support.js';
import type { RegistryLogger } from './types.js';

export interface EtcdRegistryOptions {
  /** etcd client URLs, e.g. `http://127.0.0.1:2379` (or a single string). Required. */
  endpoints: string[] | string;
  /** Key namespace: keys live under `/<namespace>/services/`. Default `switchyard`. */
  namespace?: string;
  /** Lease TTL of registrations, whole seconds >= 2 (etcd's minimum lease). Default 10. */
  ttlSeconds?: number;
  /** pino-compatible logger. Default: silent. */
  logger?: RegistryLogger;
  /**
   * Deadline of every unary etcd call (connecting included), so calls to a dead etcd
   * fail instead of hanging. Default 5000 ms.
   */
  dialTimeoutMs?: number;
  /** TLS of `https://` endpoints (PEM contents): CA and client certificate. */
  tls?: EtcdTlsOptions;
}

export const ETCD_REGISTRY_DEFAULTS = Object.freeze({
  namespace: DEFAULT_REGISTRY_NAMESPACE,
  ttlSeconds: 10,
  dialTimeoutMs: 5_000,
});

export interface ResolvedEtcdRegistryOptions {
  readonly endpoints: readonly string[];
  readonly namespace: string;
  readonly ttlSeconds: number;
  readonly logger: RegistryLogger;
  readonly dialTimeoutMs: number;
  readonly tls: EtcdTlsOptions | undefined;
}

/** Validate and default the options once; the result is frozen. */
export function resolveEtcdRegistryOptions(options: EtcdRegistryOptions): ResolvedEtcdRegistryOptions {
  if (typeof options !== 'object' || options === null) throw bad('options', 'must be an object');
  const endpoints = typeof options.endpoints === 'string' ? [options.endpoints] : options.endpoints;
  if (!Array.isArray(endpoints) || endpoints.length === 0) {
    throw bad('endpoints', 'must be a non-empty string or array of strings');
  }
  for (const e of endpoints) {
    if (typeof e !== 'string' || !/^(https?:\/\/)?[^\s/]+:\d+\/?$/.test(e)) {
      throw bad('endpoints', `has ${JSON.stringify(e)}; expected "http://host:port"`);
    }
  }
  if (new Set(endpoints.map((e) => e.startsWith('https:'))).size > 1) {
    throw bad('endpoints', 'mixes http and https');
  }
  const namespace = options.namespace ?? ETCD_REGISTRY_DEFAULTS.namespace;
  if (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace)) {
    throw bad('namespace', `must match ${NAMESPACE_PATTERN.source}`);
  }
  const ttlSeconds = options.ttlSeconds ?? ETCD_REGISTRY_DEFAULTS.ttlSeconds;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 2) throw bad('ttlSeconds', 'must be an integer >= 2');
  const dialTimeoutMs = options.dialTimeoutMs ?? ETCD_REGISTRY_DEFAULTS.dialTimeoutMs;
  if (typeof dialTimeoutMs !== 'number' || !Number.isFinite(dialTimeoutMs) || dialTimeoutMs <= 0) {
    throw bad('dialTimeoutMs', 'must be a positive number of milliseconds');
  }
  const logger = options.logger ?? silentLogger;
  if (!isLogger(logger)) {
    throw bad('logger', 'must be a pino-compatible logger');
  }
  if (options.tls !== undefined && (typeof options.tls !== 'object' || options.tls === null)) {
    throw bad('tls', 'must be an object { ca?, cert?, key? }');
  }
  return Object.freeze({
    endpoints: Object.freeze([...endpoints]),
    namespace,
    ttlSeconds,
    logger,
    dialTimeoutMs,
    tls: options.tls,
  });
}

function bad(option: string, problem: string): InstanceType<typeof InvalidOptionsError> {
  return new InvalidOptionsError(`EtcdRegistry option "${option}" ${problem}`, { details: { option } });
}
