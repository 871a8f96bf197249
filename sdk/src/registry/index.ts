export { createEtcdClient, DEFAULT_ETCD_DIAL_TIMEOUT_MS, type EtcdTlsOptions } from './etcd-client.js';
export { ETCD_REGISTRY_DEFAULTS, type EtcdRegistryOptions, type ResolvedEtcdRegistryOptions } from './etcd-options.js';
export { EtcdRegistry } from './etcd-registry.js';
export {
  assertServiceName,
  buildServiceInstance,
  checkServiceInstance,
  encodeServiceInstance,
  INSTANCE_ID_PATTERN,
  type InstanceCheck,
  type InstanceEvents,
  type MethodInfo,
  parseServiceInstance,
  type RegisterInput,
  SERVICE_NAME_PATTERN,
  type ServiceInstance,
  type SubscriptionInfo,
} from './instance-record.js';
export {
  DEFAULT_REGISTRY_NAMESPACE,
  instanceKey,
  NAMESPACE_PATTERN,
  parseInstanceKey,
  servicePrefix,
  servicesPrefix,
} from './keys.js';
export { type MemoryBackendChange, MemoryRegistryBackend } from './memory-backend.js';
export { MEMORY_REGISTRY_DEFAULTS, MemoryRegistry, type MemoryRegistryOptions } from './memory-registry.js';
export { RegistryView, type RegistryViewOptions } from './registry-view.js';
export type {
  Registration,
  Registry,
  RegistryEvent,
  RegistryListener,
  RegistryLogger,
  RegistryWatch,
} from './types.js';
