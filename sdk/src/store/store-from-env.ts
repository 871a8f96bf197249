import { InvalidOptionsError } from '@switchyard/broker';
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { readTlsEnv } from '../config/tls-env.js';
import { EtcdStore } from './etcd/etcd-store.js';
import { MemoryStore } from './memory/memory-store.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { RedisStore } from './redis/redis-store.js';
import type { Store } from './store.js';

export const STORE_ENV = 'SWITCHYARD_STORE';

/**
 * The store SWITCHYARD_STORE names: `postgres://…` / `postgresql://…`, `redis://…` /
 * `rediss://…` (SWITCHYARD_REDIS_CA/CERT/KEY for TLS), `etcd` (the infrastructure's etcd,
 * with its TLS) or `memory` (the default). Not started.
 */
export function storeFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  context: { namespace: string; etcd?: () => Etcd3; logger?: Logger },
): Store {
  const raw = env[STORE_ENV]?.trim() || 'memory';
  const database = context.namespace;
  if (raw === 'memory') return new MemoryStore({ database });
  if (raw === 'etcd') {
    if (!context.etcd) {
      throw new InvalidOptionsError(`${STORE_ENV} is "etcd" but no etcd is configured (SWITCHYARD_ETCD)`, {
        details: { option: STORE_ENV },
      });
    }
    return new EtcdStore({ client: context.etcd(), closeClient: true, namespace: context.namespace, database });
  }
  if (/^postgres(ql)?:\/\//.test(raw)) {
    return new PostgresStore({ url: raw, database, ...(context.logger ? { logger: context.logger } : {}) });
  }
  if (/^rediss?:\/\//.test(raw)) {
    const tls = readTlsEnv(env, 'redis', { source: STORE_ENV, secure: raw.startsWith('rediss://') });
    return new RedisStore({
      url: raw,
      database,
      ...(tls ? { tls } : {}),
      ...(context.logger ? { logger: context.logger } : {}),
    });
  }
  throw new InvalidOptionsError(
    `${STORE_ENV} must be postgres://…, redis://…, rediss://…, "etcd" or "memory", got ${JSON.stringify(raw)}`,
    { details: { option: STORE_ENV } },
  );
}
