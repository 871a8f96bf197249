export { type ConfigDocument, decodeConfigValue, getAt as configValueAt, parsePath } from './config-paths.js';
export type { ConfigSource } from './config-source.js';
export {
  type ConfigChange,
  type ConfigRefusal,
  type ConfigStatus,
  type ConfigWatcher,
  DynamicConfig,
  type DynamicConfigOptions,
  REDACTED,
} from './dynamic-config.js';
export { CONFIG_ENV_PREFIX, EnvConfigSource, type EnvConfigSourceOptions } from './env-config-source.js';
export { configKey, configPrefix, EtcdConfigSource, type EtcdConfigSourceOptions } from './etcd-config-source.js';
export {
  type ConfigEdit,
  type ConfigPlan,
  type ConfigWriteResult,
  commitConfigPlan,
  configPathOf,
  planEtcdConfig,
  readEtcdConfig,
  replaceEtcdConfig,
  writeEtcdConfig,
} from './etcd-config-writer.js';
export { FileConfigSource, type FileConfigSourceOptions } from './file-config-source.js';
export { MemoryConfigSource } from './memory-config-source.js';
export { DEFAULT_SECRETS_DIR, SecretFilesSource, type SecretFilesSourceOptions } from './secret-files-source.js';
export { StaticConfigSource } from './static-config-source.js';
