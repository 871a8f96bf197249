import { AmqpTransport, MemoryTransport, type Transport } from '@switchyard/broker';
import type { Etcd3 } from 'etcd3';
import { type AuthOptions, parseAuthSettings } from '../auth/auth-settings.js';
import { createInfrastructureAuth, type InfrastructureAuth } from '../auth/infrastructure-auth.js';
import type { Cache } from '../cache/cache.js';
import { cacheFromEnv } from '../cache/cache-from-env.js';
import type { ConfigSource } from '../dynamic-config/config-source.js';
import { EtcdConfigSource } from '../dynamic-config/etcd-config-source.js';
import { MemoryConfigSource } from '../dynamic-config/memory-config-source.js';
import { createEtcdClient } from '../registry/etcd-client.js';
import { EtcdRegistry } from '../registry/etcd-registry.js';
import { MemoryRegistry } from '../registry/memory-registry.js';
import type { Registry } from '../registry/types.js';
import { DirectorySchemaSource } from '../schemas/directory-source.js';
import { EtcdSchemaSource } from '../schemas/etcd-source.js';
import { MemorySchemaSource } from '../schemas/memory-source.js';
import { SchemaRegistry } from '../schemas/schema-registry.js';
import type { SchemaSource } from '../schemas/types.js';
import type { Store } from '../store/store.js';
import { storeFromEnv } from '../store/store-from-env.js';
import { EtcdSync } from '../sync/etcd-sync.js';
import { MemorySync } from '../sync/memory-sync.js';
import type { Sync } from '../sync/sync.js';
import { boolOption, intOption, invalidOption, isPlainObject, knownKeys } from './check.js';
import {
  type InfrastructureMode,
  parseSwitchyardConfig,
  type SwitchyardConfig,
  type SwitchyardConfigOverrides,
} from './env-config.js';
import { defaultLogger, isPinoLogger, type Logger } from './logger.js';

/**
 * What services (and a gateway) in one process share: one registry, one transport, one
 * schema registry. Build it once with `createInfrastructure()` and pass it as `infra` to
 * every `createService()`; close it after them.
 */
export interface Infrastructure {
  readonly mode: InfrastructureMode;
  readonly namespace: string;
  readonly registry: Registry;
  readonly transport: Transport;
  readonly schemas: SchemaRegistry;
  readonly logger: Logger;
  readonly config: SwitchyardConfig;
  /** Service identity and access rules; undefined when auth is off (SWITCHYARD_AUTH_URL unset or SWITCHYARD_AUTH=off). */
  readonly auth: InfrastructureAuth | undefined;
  /** Records of state (SWITCHYARD_STORE: PostgreSQL, Redis, etcd or, by default, memory); `ctx.store` in handlers. */
  readonly store: Store;
  /** The cache (SWITCHYARD_CACHE: memory by default, or a local LRU in front of Redis); `ctx.cache` in handlers. */
  readonly cache: Cache;
  /** Locks and leader election: etcd with servers, memory embedded; `ctx.sync` in handlers. */
  readonly sync: Sync;
  /**
   * The shared, watched config layer of `scope` (a service's name by default): a key
   * prefix in etcd with servers, a `MemoryConfigSource` embedded. One instance per scope;
   * `DynamicConfig` starts it, and the infrastructure closes it.
   */
  configSource(scope: string): ConfigSource;
  /**
   * Close what this infrastructure created (parts passed in are left to their owner), in
   * order: registry (deregisters leftovers at once), transport (drains), schemas. Idempotent.
   */
  close(): Promise<void>;
}

export interface InfrastructureOptions extends SwitchyardConfigOverrides {
  /** Where SWITCHYARD_* settings are read. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default: pino to stdout at `info`. */
  logger?: Logger;
  /** Use this registry instead of building one (it is not closed by `close()`). */
  registry?: Registry;
  /** Use this transport instead of building one (it is not closed by `close()`). */
  transport?: Transport;
  /** Use this schema registry instead of building one (it is not closed by `close()`). */
  schemaRegistry?: SchemaRegistry;
  /** Lease TTL of registrations, seconds. Default 10 (etcd: integer >= 2). */
  registryTtlSeconds?: number;
  /** Reload a schema directory when its files change. Default: true in embedded mode, false with servers. */
  watchSchemas?: boolean;
  /** Switch auth on (service identity on every hop) or, with `false`, off. Default: from SWITCHYARD_AUTH_URL / SWITCHYARD_AUTH. */
  auth?: AuthOptions | false;
  /** Use this store instead of the one SWITCHYARD_STORE names (it is not closed by `close()`). */
  store?: Store;
  /** Use this cache instead of the one SWITCHYARD_CACHE names (it is not closed by `close()`). */
  cache?: Cache;
}

const KNOWN = [
  'env',
  'logger',
  'registry',
  'transport',
  'schemaRegistry',
  'registryTtlSeconds',
  'watchSchemas',
  'auth',
  'store',
  'cache',
  'etcdEndpoints',
  'amqpUrl',
  'namespace',
  'schemas',
  'amqpTls',
  'etcdTls',
] as const;

/**
 * Build and start the shared parts from options and the environment. With neither etcd
 * nor RabbitMQ configured it runs on the in-memory registry and transport and logs that
 * once. Throws INVALID_OPTIONS naming a bad option or variable, UNAVAILABLE when a server
 * does not answer, SCHEMA_INVALID when the schemas cannot be loaded.
 */
export async function createInfrastructure(options: InfrastructureOptions = {}): Promise<Infrastructure> {
  if (!isPlainObject(options as unknown)) throw invalidOption('options', 'must be an object');
  knownKeys('', options as Record<string, unknown>, KNOWN);
  const logger = options.logger ?? defaultLogger();
  if (!isPinoLogger(logger)) throw invalidOption('logger', 'must be a pino logger');
  const config = parseSwitchyardConfig(options.env ?? process.env, options);
  const ttlSeconds = intOption('registryTtlSeconds', options.registryTtlSeconds, 10, config.mode === 'servers' ? 2 : 1);
  const watchSchemas = boolOption('watchSchemas', options.watchSchemas, config.mode === 'embedded');
  const authSettings = parseAuthSettings(options.env ?? process.env, options.auth);
  checkPart('registry', options.registry, ['register', 'view', 'close']);
  checkPart('transport', options.transport, ['call', 'serve', 'publish', 'close']);
  checkPart('schemaRegistry', options.schemaRegistry, ['get', 'has', 'close']);
  checkPart('store', options.store, ['read', 'write', 'delete', 'list', 'close']);
  checkPart('cache', options.cache, ['get', 'set', 'delete', 'getOrLoad', 'close']);

  const owned: Array<{ close(): Promise<void> | void }> = [];
  try {
    let registry = options.registry;
    if (!registry) {
      const registryLogger = logger.child({ component: 'registry' });
      registry =
        config.mode === 'servers'
          ? new EtcdRegistry({
              endpoints: [...config.etcdEndpoints],
              namespace: config.namespace,
              ttlSeconds,
              logger: registryLogger,
              tls: config.etcdTls,
            })
          : new MemoryRegistry({ namespace: config.namespace, ttlSeconds, logger: registryLogger });
      owned.push(registry);
    }
    let transport = options.transport;
    if (!transport) {
      transport =
        config.mode === 'servers'
          ? new AmqpTransport({
              url: config.amqpUrl!,
              namespace: config.namespace,
              logger: logger.child({ component: 'transport' }),
              tls: config.amqpTls,
            })
          : new MemoryTransport({ namespace: config.namespace });
      owned.push(transport);
    }
    let schemas = options.schemaRegistry;
    let schemaClient: Etcd3 | undefined;
    if (!schemas) {
      const schemaLogger = logger.child({ component: 'schemas' });
      let source: SchemaSource;
      if (config.schemas.kind === 'directory') {
        source = new DirectorySchemaSource({ dir: config.schemas.dir, watch: watchSchemas, logger: schemaLogger });
      } else if (config.schemas.kind === 'etcd') {
        schemaClient = createEtcdClient(config.etcdEndpoints, { tls: config.etcdTls });
        source = new EtcdSchemaSource({ client: schemaClient, namespace: config.namespace, logger: schemaLogger });
      } else {
        source = new MemorySchemaSource();
      }
      schemas = new SchemaRegistry({ source, logger: schemaLogger });
      owned.push(schemas);
      // After the schema registry, which closes its source (the client's watcher) first.
      if (schemaClient) {
        const client = schemaClient;
        owned.push({ close: () => client.close() });
      }
    }
    if (config.mode === 'embedded') {
      logger.warn(
        { mode: 'embedded', namespace: config.namespace },
        'embedded mode: neither SWITCHYARD_ETCD nor SWITCHYARD_AMQP is set, so the registry and transport run in this process only',
      );
    }
    let auth: InfrastructureAuth | undefined;
    if (authSettings) {
      const parts = createInfrastructureAuth(authSettings, {
        etcd:
          config.mode === 'servers' ? () => createEtcdClient(config.etcdEndpoints, { tls: config.etcdTls }) : undefined,
        namespace: config.namespace,
        logger: logger.child({ component: 'auth' }),
      });
      auth = parts.auth;
      owned.push(...parts.owned);
      for (const part of parts.owned) await part.start?.();
    }
    let store = options.store;
    if (!store) {
      const etcdEndpoints = config.etcdEndpoints;
      const made = storeFromEnv(options.env ?? process.env, {
        namespace: config.namespace,
        logger: logger.child({ component: 'store' }),
        ...(config.mode === 'servers' ? { etcd: () => createEtcdClient(etcdEndpoints, { tls: config.etcdTls }) } : {}),
      });
      store = made;
      owned.push(made);
    }
    let cache = options.cache;
    if (!cache) {
      const made = cacheFromEnv(options.env ?? process.env, {
        namespace: config.namespace,
        logger: logger.child({ component: 'cache' }),
      });
      cache = made;
      owned.push(made);
    }
    const sync: Sync =
      config.mode === 'servers'
        ? new EtcdSync({
            endpoints: [...config.etcdEndpoints],
            ...(config.etcdTls ? { tls: config.etcdTls } : {}),
            namespace: config.namespace,
            logger: logger.child({ component: 'sync' }),
          })
        : new MemorySync();
    owned.push(sync);
    const configSources = new ConfigSources(config, logger.child({ component: 'config' }));
    owned.push(configSources);
    await registry.start();
    await transport.start();
    await schemas.start();
    await store.start();
    await cache.start();
    return new SharedInfrastructure(
      config,
      registry,
      transport,
      schemas,
      logger,
      owned,
      auth,
      store,
      cache,
      sync,
      configSources,
    );
  } catch (err) {
    await closeInOrder(owned, logger);
    throw err;
  }
}

class SharedInfrastructure implements Infrastructure {
  readonly mode: InfrastructureMode;
  readonly namespace: string;
  private closing: Promise<void> | undefined;

  constructor(
    readonly config: SwitchyardConfig,
    readonly registry: Registry,
    readonly transport: Transport,
    readonly schemas: SchemaRegistry,
    readonly logger: Logger,
    private readonly owned: ReadonlyArray<{ close(): Promise<void> | void }>,
    readonly auth: InfrastructureAuth | undefined,
    readonly store: Store,
    readonly cache: Cache,
    readonly sync: Sync,
    private readonly configSources: ConfigSources,
  ) {
    this.mode = transport.kind === 'memory' ? 'embedded' : 'servers';
    this.namespace = config.namespace;
  }

  configSource(scope: string): ConfigSource {
    return this.configSources.get(scope);
  }

  close(): Promise<void> {
    this.closing ??= closeInOrder(this.owned, this.logger);
    return this.closing;
  }
}

/**
 * One config layer per scope, made on first use: several services in a process that
 * share a scope share its watch. With servers they share one etcd client, opened with the
 * first scope asked for (a process without dynamic config opens none).
 */
class ConfigSources {
  readonly #sources = new Map<string, ConfigSource>();
  #client: Etcd3 | undefined;

  constructor(
    private readonly config: SwitchyardConfig,
    private readonly logger: Logger,
  ) {}

  get(scope: string): ConfigSource {
    let source = this.#sources.get(scope);
    if (source) return source;
    if (typeof scope !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(scope)) {
      throw invalidOption(
        'configSource(scope)',
        `must be a name of letters, digits, ".", "_" or "-" (got ${JSON.stringify(scope)})`,
      );
    }
    if (this.config.mode === 'servers') {
      this.#client ??= createEtcdClient(this.config.etcdEndpoints, { tls: this.config.etcdTls });
      source = new EtcdConfigSource({
        client: this.#client,
        namespace: this.config.namespace,
        scope,
        logger: this.logger,
      });
    } else {
      source = new MemoryConfigSource(`memory ${scope}`);
    }
    this.#sources.set(scope, source);
    return source;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#sources.values()].map((s) => s.close()));
    this.#sources.clear();
    this.#client?.close();
  }
}

/** Close each part even when an earlier one fails: a half-closed infrastructure leaks connections. */
async function closeInOrder(parts: ReadonlyArray<{ close(): Promise<void> | void }>, logger: Logger): Promise<void> {
  for (const part of parts) {
    try {
      await part.close();
    } catch (err) {
      logger.warn({ err }, 'closing part of the infrastructure failed');
    }
  }
}

function checkPart(option: string, value: unknown, methods: readonly string[]): void {
  if (value === undefined) return;
  for (const m of methods) {
    if (typeof (value as Record<string, unknown> | null)?.[m] !== 'function') {
      throw invalidOption(option, `must have a ${m}() method`);
    }
  }
}
