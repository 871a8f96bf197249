import { ClosedError, InvalidOptionsError } from '@switchyard/broker';
import {
  assertServiceName,
  buildServiceInstance,
  type RegisterInput,
  type ServiceInstance,
} from './instance-record.js';
import {
  byId,
  DEFAULT_REGISTRY_NAMESPACE,
  decodeEntry,
  instanceKey,
  NAMESPACE_PATTERN,
  parseInstanceKey,
  servicePrefix,
  servicesPrefix,
} from './keys.js';
import { MemoryRegistryBackend } from './memory-backend.js';
import { MemoryRegistration } from './memory-registration.js';
import { RegistryView } from './registry-view.js';
import { deliver, isLogger, silentLogger } from './support.js';
import type { Registration, Registry, RegistryListener, RegistryLogger, RegistryWatch } from './types.js';

export interface MemoryRegistryOptions {
  /** Registries sharing a backend see each other's instances. Default: a private backend. */
  backend?: MemoryRegistryBackend;
  /** Key namespace, as for EtcdRegistry. Default `switchyard`. */
  namespace?: string;
  /** Lease TTL in seconds; fractions are allowed (handy in tests). Default 10. */
  ttlSeconds?: number;
  /** pino-compatible logger. Default: silent. */
  logger?: RegistryLogger;
}

export const MEMORY_REGISTRY_DEFAULTS = Object.freeze({ namespace: DEFAULT_REGISTRY_NAMESPACE, ttlSeconds: 10 });

/**
 * The registry in process memory, with etcd's semantics (leases, TTL expiry, prefix
 * watch with an initial sync): for embedded mode, where gateway and services share one
 * process, and for unit tests. Test hooks: `Registration.simulateCrash()` and
 * `backend.simulateWatchOutage()`.
 */
export class MemoryRegistry implements Registry {
  readonly backend: MemoryRegistryBackend;
  readonly namespace: string;
  readonly ttlSeconds: number;
  private readonly logger: RegistryLogger;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly registrations = new Map<string, MemoryRegistration>();
  private readonly watches = new Set<RegistryWatch>();
  private sharedView: RegistryView | undefined;

  /** Throws INVALID_OPTIONS naming the bad option. */
  constructor(options: MemoryRegistryOptions = {}) {
    this.namespace = options.namespace ?? MEMORY_REGISTRY_DEFAULTS.namespace;
    if (typeof this.namespace !== 'string' || !NAMESPACE_PATTERN.test(this.namespace)) {
      throw bad('namespace', `must match ${NAMESPACE_PATTERN.source}`);
    }
    this.ttlSeconds = options.ttlSeconds ?? MEMORY_REGISTRY_DEFAULTS.ttlSeconds;
    if (typeof this.ttlSeconds !== 'number' || !Number.isFinite(this.ttlSeconds) || this.ttlSeconds <= 0) {
      throw bad('ttlSeconds', 'must be a positive number');
    }
    if (options.backend !== undefined && !(options.backend instanceof MemoryRegistryBackend)) {
      throw bad('backend', 'must be a MemoryRegistryBackend');
    }
    if (options.logger !== undefined && !isLogger(options.logger))
      throw bad('logger', 'must be a pino-compatible logger');
    this.backend = options.backend ?? new MemoryRegistryBackend();
    this.logger = options.logger ?? silentLogger;
  }

  async start(): Promise<void> {
    this.assertOpen();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await this.sharedView?.close();
      await Promise.all([...this.watches].map((w) => w.close()));
      await Promise.all([...this.registrations.values()].map((r) => r.deregister()));
    })();
    return this.closing;
  }

  async register(input: RegisterInput): Promise<Registration> {
    this.assertOpen();
    const instance = buildServiceInstance(input);
    const key = instanceKey(this.namespace, instance.service, instance.id);
    const registration = new MemoryRegistration(instance, {
      backend: this.backend,
      key,
      ttlMs: this.ttlSeconds * 1000,
      logger: this.logger,
      onEnd: (r) => {
        if (this.registrations.get(key) === r) this.registrations.delete(key);
      },
    });
    registration.establish();
    const previous = this.registrations.get(key);
    this.registrations.set(key, registration);
    previous?.supersede();
    return registration;
  }

  async listInstances(service: string): Promise<ServiceInstance[]> {
    this.assertOpen();
    assertServiceName(service);
    return this.read(servicePrefix(this.namespace, service));
  }

  async listServices(): Promise<string[]> {
    this.assertOpen();
    const all = this.read(servicesPrefix(this.namespace));
    return [...new Set(all.map((i) => i.service))].sort();
  }

  watch(listener: RegistryListener): RegistryWatch {
    this.assertOpen();
    const prefix = servicesPrefix(this.namespace);
    let synced = false;
    let closed = false;
    const emit = (e: Parameters<RegistryListener>[0]) => {
      if (!closed) deliver(listener, e, this.logger);
    };
    const stop = this.backend.watch(prefix, (change) => {
      switch (change.type) {
        case 'sync': {
          const instances: ServiceInstance[] = [];
          for (const [k, v] of change.entries) {
            const inst = decodeEntry(prefix, k, v, this.logger);
            if (inst) instances.push(inst);
          }
          synced = true;
          emit({ type: 'sync', instances: instances.sort(byId) });
          return;
        }
        case 'put': {
          const inst = decodeEntry(prefix, change.key, change.value, this.logger);
          const where = parseInstanceKey(prefix, change.key);
          if (inst) emit({ type: 'put', instance: inst });
          else if (where) emit({ type: 'delete', ...where });
          return;
        }
        case 'delete': {
          const where = parseInstanceKey(prefix, change.key);
          if (where) emit({ type: 'delete', ...where });
          return;
        }
        case 'disconnected':
          if (!synced) return;
          synced = false;
          emit({ type: 'disconnected', reason: 'simulated watch outage' });
          return;
      }
    });
    const handle: RegistryWatch = {
      get synced() {
        return synced;
      },
      close: async () => {
        closed = true;
        stop();
        this.watches.delete(handle);
      },
    };
    this.watches.add(handle);
    return handle;
  }

  view(): RegistryView {
    this.assertOpen();
    if (!this.sharedView) {
      this.sharedView = new RegistryView(this, { logger: this.logger });
      void this.sharedView.start();
    }
    return this.sharedView;
  }

  private read(prefix: string): ServiceInstance[] {
    const root = servicesPrefix(this.namespace);
    const out: ServiceInstance[] = [];
    for (const [k, v] of this.backend.range(prefix)) {
      const inst = decodeEntry(root, k, v, this.logger);
      if (inst) out.push(inst);
    }
    return out.sort(byId);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('registry is closed');
  }
}

function bad(option: string, problem: string): InstanceType<typeof InvalidOptionsError> {
  return new InvalidOptionsError(`MemoryRegistry option "${option}" ${problem}`, { details: { option } });
}
