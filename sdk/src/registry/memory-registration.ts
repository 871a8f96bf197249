import { encodeServiceInstance, type ServiceInstance } from './instance-record.js';
import type { MemoryRegistryBackend } from './memory-backend.js';
import type { Registration, RegistryLogger } from './types.js';

export interface MemoryRegistrationContext {
  backend: MemoryRegistryBackend;
  key: string;
  ttlMs: number;
  logger: RegistryLogger;
  onEnd(registration: MemoryRegistration): void;
}

/** The in-memory twin of EtcdRegistration: a lease kept alive every TTL/3, re-granted if it ever lapses. */
export class MemoryRegistration implements Registration {
  private lease: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private readonly value: string;

  constructor(
    readonly instance: ServiceInstance,
    private readonly ctx: MemoryRegistrationContext,
  ) {
    this.value = encodeServiceInstance(instance);
  }

  establish(): void {
    this.putWithNewLease();
    this.timer = setInterval(() => this.keepAlive(), this.ctx.ttlMs / 3);
    this.timer.unref();
  }

  async deregister(): Promise<void> {
    if (this.ended) return;
    this.end();
    if (this.lease !== undefined) this.ctx.backend.revoke(this.lease);
  }

  simulateCrash(): void {
    // The lease stays: the backend deletes the key when its TTL runs out.
    this.end();
  }

  supersede(): void {
    void this.deregister();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    this.ctx.onEnd(this);
  }

  private keepAlive(): void {
    if (this.lease !== undefined && this.ctx.backend.keepAlive(this.lease)) return;
    // The lease lapsed (e.g. the event loop was blocked past the TTL): register again, as on etcd.
    this.ctx.logger.warn({ key: this.ctx.key }, 'registry: lease lost; registering again');
    this.putWithNewLease();
  }

  private putWithNewLease(): void {
    this.lease = this.ctx.backend.grant(this.ctx.ttlMs);
    this.ctx.backend.put(this.ctx.key, this.value, this.lease);
  }
}
