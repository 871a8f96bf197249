import { UnavailableError } from '@switchyard/broker';
import type { Etcd3, Lease } from 'etcd3';
import { etcdUnavailable } from './etcd-errors.js';
import { encodeServiceInstance, type ServiceInstance } from './instance-record.js';
import { retryDelayMs, Sleeper } from './support.js';
import type { Registration, RegistryLogger } from './types.js';

export interface EtcdRegistrationContext {
  client: Etcd3;
  key: string;
  ttlSeconds: number;
  logger: RegistryLogger;
  /** Called once when the registration ends (deregistered, crashed or superseded). */
  onEnd(registration: EtcdRegistration): void;
}

/**
 * One instance's key held by a lease that etcd3 keeps alive (a keepalive every TTL/3).
 *
 * etcd3 emits `lost` when etcd says the lease is gone or after 2 x TTL without a
 * keepalive (e.g. etcd was down); the lease object is dead from then on. We then grant a
 * new lease and put the record again, retrying until etcd answers, so a service survives
 * an etcd restart or wipe without doing anything.
 */
export class EtcdRegistration implements Registration {
  private lease: Lease | undefined;
  private establishing = false;
  private recovering = false;
  private ended = false;
  private deregistering: Promise<void> | undefined;
  private readonly sleeper = new Sleeper();
  private readonly value: string;

  constructor(
    readonly instance: ServiceInstance,
    private readonly ctx: EtcdRegistrationContext,
  ) {
    this.value = encodeServiceInstance(instance);
  }

  /** The first put. Rejects with UNAVAILABLE when etcd does not take it. */
  async establish(): Promise<void> {
    try {
      await this.putWithNewLease();
    } catch (err) {
      this.end();
      throw etcdUnavailable(err, `registering ${this.ctx.key}`);
    }
  }

  deregister(): Promise<void> {
    this.deregistering ??= this.revoke();
    return this.deregistering;
  }

  simulateCrash(): void {
    if (this.ended) return;
    this.end();
    // Stop keepalives but leave the lease: etcd deletes the key when the TTL runs out.
    this.lease?.release();
    this.lease = undefined;
  }

  /** Another registration now owns the key: retire quietly (revoking our lease no longer touches the key). */
  supersede(): void {
    void this.deregister();
  }

  private async revoke(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    this.end();
    if (!lease) return;
    try {
      await lease.revoke();
    } catch (err) {
      this.ctx.logger.warn(
        { err, key: this.ctx.key },
        'registry: could not revoke the lease; the record expires after its TTL',
      );
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.sleeper.wakeAll();
    this.ctx.onEnd(this);
  }

  private async putWithNewLease(): Promise<void> {
    const lease = this.ctx.client.lease(this.ctx.ttlSeconds);
    this.lease = lease;
    lease.on('lost', (err) => this.onLost(lease, err));
    this.establishing = true;
    try {
      await lease.put(this.ctx.key).value(this.value).exec();
      // A `lost` during the put was ignored above: a dead lease must not count as registered.
      if (lease.revoked()) throw new UnavailableError('lease lost while registering');
    } catch (err) {
      lease.release();
      if (this.lease === lease) this.lease = undefined;
      throw err;
    } finally {
      this.establishing = false;
    }
  }

  private onLost(lease: Lease, err: Error): void {
    // An exception here would surface inside etcd3's promise chains: never throw.
    try {
      if (lease !== this.lease || this.ended || this.establishing) return;
      this.lease = undefined;
      this.ctx.logger.warn({ err, key: this.ctx.key }, 'registry: lease lost; registering again');
      void this.recover();
    } catch {
      // nothing sensible left to do
    }
  }

  private async recover(): Promise<void> {
    if (this.recovering) return;
    this.recovering = true;
    try {
      for (let attempt = 0; !this.ended; attempt++) {
        try {
          await this.putWithNewLease();
          if (this.ended) {
            await this.lease?.revoke().catch(() => undefined);
            return;
          }
          this.ctx.logger.info({ key: this.ctx.key, attempts: attempt + 1 }, 'registry: registered again');
          return;
        } catch (err) {
          this.ctx.logger.debug({ err, key: this.ctx.key, attempt }, 'registry: re-registration failed; retrying');
          // Short retries for short TTLs: the record must be back within about one TTL of etcd's return.
          await this.sleeper.sleep(retryDelayMs(attempt, Math.min(1_000, this.ctx.ttlSeconds * 250)));
        }
      }
    } finally {
      this.recovering = false;
    }
  }
}
