import { ClosedError } from '@switchyard/broker';
import type { Etcd3, IRangeResponse } from 'etcd3';
import { createEtcdClient } from './etcd-client.js';
import { etcdUnavailable } from './etcd-errors.js';
import {
  type EtcdRegistryOptions,
  type ResolvedEtcdRegistryOptions,
  resolveEtcdRegistryOptions,
} from './etcd-options.js';
import { EtcdRegistration } from './etcd-registration.js';
import { EtcdWatch } from './etcd-watch.js';
import {
  assertServiceName,
  buildServiceInstance,
  type RegisterInput,
  type ServiceInstance,
} from './instance-record.js';
import { byId, decodeEntry, instanceKey, servicePrefix, servicesPrefix } from './keys.js';
import { RegistryView } from './registry-view.js';
import type { Registration, Registry, RegistryListener, RegistryWatch } from './types.js';

/**
 * The registry on etcd: one key per instance under `/<ns>/services/`, held by a lease.
 * See docs/registry.md for the layout and how other languages take part.
 */
export class EtcdRegistry implements Registry {
  readonly options: ResolvedEtcdRegistryOptions;
  private client: Etcd3 | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly registrations = new Map<string, EtcdRegistration>();
  private readonly watches = new Set<EtcdWatch>();
  private sharedView: RegistryView | undefined;

  /** Throws INVALID_OPTIONS naming the bad option. */
  constructor(options: EtcdRegistryOptions) {
    this.options = resolveEtcdRegistryOptions(options);
  }

  async start(): Promise<void> {
    this.connect();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  async register(input: RegisterInput): Promise<Registration> {
    const client = this.connect();
    const instance = buildServiceInstance(input);
    const key = instanceKey(this.options.namespace, instance.service, instance.id);
    const registration = new EtcdRegistration(instance, {
      client,
      key,
      ttlSeconds: this.options.ttlSeconds,
      logger: this.options.logger,
      onEnd: (r) => {
        if (this.registrations.get(key) === r) this.registrations.delete(key);
      },
    });
    await registration.establish();
    const previous = this.registrations.get(key);
    this.registrations.set(key, registration);
    previous?.supersede();
    if (this.closed) {
      await registration.deregister();
      throw new ClosedError('registry closed while registering');
    }
    return registration;
  }

  async listInstances(service: string): Promise<ServiceInstance[]> {
    assertServiceName(service);
    return this.list(servicePrefix(this.options.namespace, service));
  }

  async listServices(): Promise<string[]> {
    const all = await this.list(servicesPrefix(this.options.namespace));
    return [...new Set(all.map((i) => i.service))].sort();
  }

  watch(listener: RegistryListener): RegistryWatch {
    const client = this.connect();
    const w = new EtcdWatch({
      client,
      prefix: servicesPrefix(this.options.namespace),
      listener,
      logger: this.options.logger,
      cancelTimeoutMs: this.options.dialTimeoutMs,
      onClose: () => this.watches.delete(w),
    });
    this.watches.add(w);
    return w;
  }

  view(): RegistryView {
    if (this.closed) throw new ClosedError('registry is closed');
    if (!this.sharedView) {
      this.sharedView = new RegistryView(this, { logger: this.options.logger });
      void this.sharedView.start();
    }
    return this.sharedView;
  }

  private async list(prefix: string): Promise<ServiceInstance[]> {
    const client = this.connect();
    let res: IRangeResponse;
    try {
      res = await client.getAll().prefix(prefix).exec();
    } catch (err) {
      throw etcdUnavailable(err, `listing ${prefix}`);
    }
    const out: ServiceInstance[] = [];
    const root = servicesPrefix(this.options.namespace);
    for (const kv of res.kvs) {
      const inst = decodeEntry(root, kv.key.toString(), kv.value.toString(), this.options.logger);
      if (inst) out.push(inst);
    }
    return out.sort(byId);
  }

  private connect(): Etcd3 {
    if (this.closed) throw new ClosedError('registry is closed');
    this.client ??= createEtcdClient(this.options.endpoints, {
      dialTimeoutMs: this.options.dialTimeoutMs,
      tls: this.options.tls,
    });
    return this.client;
  }

  /** Order: stop readers, remove our records (at once, by revoking leases), then drop the connection. */
  private async shutdown(): Promise<void> {
    this.closed = true;
    await this.sharedView?.close();
    await Promise.all([...this.watches].map((w) => w.close()));
    await Promise.all([...this.registrations.values()].map((r) => r.deregister()));
    this.client?.close();
    this.client = undefined;
  }
}
