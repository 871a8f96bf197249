export { EtcdStore, type EtcdStoreOptions } from './etcd/etcd-store.js';
export { MemoryStore, type MemoryStoreOptions } from './memory/memory-store.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
export { RedisStore, type RedisStoreOptions } from './redis/redis-store.js';
export type {
  DeleteOptions,
  Fence,
  ListOptions,
  ReadOptions,
  Store,
  StoreBackend,
  StoreMetadata,
  StoreRecord,
  StoreScope,
  WriteOptions,
} from './store.js';
export { DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES } from './store-checks.js';
export { STORE_ENV, storeFromEnv } from './store-from-env.js';
