import { ServiceNotFoundError, UnimplementedError } from '@switchyard/broker';
import type { MethodInfo } from '../registry/instance-record.js';
import type { RegistryView } from '../registry/registry-view.js';

interface ServiceMethods {
  /** False when no instance lists any method (e.g. a hand-registered polyglot service): nothing can be checked. */
  readonly declared: boolean;
  readonly methods: ReadonlyMap<string, MethodInfo>;
}

/**
 * What callers need to know about a target method (request schema, idempotency), read
 * from the registry's cached view and folded per service once per change of that
 * service — never registry I/O per call. When instances disagree (a rolling upgrade),
 * the first instance (by id) that declares the method speaks for it.
 */
export class TargetDirectory {
  private readonly cache = new Map<string, ServiceMethods>();
  private readonly unsubscribe: () => void;

  constructor(private readonly view: RegistryView) {
    this.unsubscribe = view.onChange((service) => this.cache.delete(service));
  }

  /**
   * The registered method, or undefined when the service declares no methods at all.
   * Throws SERVICE_NOT_FOUND when no instance is registered, UNIMPLEMENTED when the
   * service declares methods but not this one.
   */
  method(service: string, method: string): MethodInfo | undefined {
    let entry = this.cache.get(service);
    if (!entry) {
      const instances = this.view.instances(service);
      if (instances.length === 0) {
        throw new ServiceNotFoundError(`no instance of service "${service}" is registered`, { details: { service } });
      }
      const methods = new Map<string, MethodInfo>();
      for (const inst of instances) {
        for (const [name, info] of Object.entries(inst.methods)) if (!methods.has(name)) methods.set(name, info);
      }
      entry = { declared: methods.size > 0, methods };
      this.cache.set(service, entry);
    }
    const info = entry.methods.get(method);
    if (info === undefined && entry.declared) {
      throw new UnimplementedError(`service "${service}" has no method "${method}"`, { details: { service, method } });
    }
    return info;
  }

  close(): void {
    this.unsubscribe();
    this.cache.clear();
  }
}
