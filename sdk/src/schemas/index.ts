export { canonicalJson, schemaHash } from './canonical-json.js';
export { type CompatibilityOptions, checkCompatibility, type SchemaResolver } from './compatibility.js';
export {
  DEFAULT_DIRECTORY_DEBOUNCE_MS,
  DirectorySchemaSource,
  type DirectorySchemaSourceOptions,
} from './directory-source.js';
export {
  DEFAULT_SCHEMA_NAMESPACE,
  historyKey as schemaHistoryKey,
  historyPrefix as schemaHistoryPrefix,
  latestKey as schemaLatestKey,
  latestPrefix as schemaLatestPrefix,
  SCHEMA_NAMESPACE_PATTERN,
  type SchemaRecord,
} from './etcd-keys.js';
export { EtcdSchemaSource, type EtcdSchemaSourceOptions } from './etcd-source.js';
export { MemorySchemaSource } from './memory-source.js';
export { type BundleOptions, bundleSchemas, componentName, type SchemaBundle } from './schema-bundle.js';
export {
  type CompileResult,
  compileSchemas,
  createAjv,
  JSON_SCHEMA_2020_12,
  type SchemaCompilerOptions,
} from './schema-compiler.js';
export {
  type SchemaBreak,
  type SchemaIncompatibleErrorInstance,
  type SchemaInvalidErrorInstance,
  schemaIncompatibleError,
  schemaInvalidError,
} from './schema-errors.js';
export { type LoadDirectoryOptions, loadSchemaDirectory, parseSchemaText } from './schema-loader.js';
export {
  DEFAULT_CONFLICT_RETRIES,
  type PublishedSchemaSummary,
  SchemaPublisher,
  type SchemaPublisherOptions,
  type SchemaPublishOptions,
  type SchemaPublishResult,
} from './schema-publisher.js';
export {
  type SchemaChange,
  SchemaRegistry,
  type SchemaRegistryEvents,
  type SchemaRegistryOptions,
} from './schema-registry.js';
export type {
  Break,
  JsonSchema,
  JsonSchemaObject,
  SchemaDocument,
  SchemaLogger,
  SchemaProblem,
  SchemaSnapshot,
  SchemaSource,
} from './types.js';
export { SchemaValidator } from './validator.js';
export { toViolations } from './violations.js';
