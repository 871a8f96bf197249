import { randomBytes } from 'node:crypto';
import { InvalidOptionsError } from '@switchyard/broker';
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { createEtcdClient, type EtcdTlsOptions } from '../registry/etcd-client.js';
import { etcdUnavailable } from '../registry/etcd-errors.js';
import type { CampaignOptions, Leadership, LockHandle, LockOptions, Sync } from './sync.js';
import {
  checkLockOptions,
  checkSyncName,
  holding,
  LossSignal,
  leadership,
  lockHandle,
  notAcquired,
} from './sync-checks.js';

export interface EtcdSyncOptions {
  endpoints?: readonly string[];
  /** Use this client (closed with the sync only if `closeClient`). */
  client?: Etcd3;
  closeClient?: boolean;
  tls?: EtcdTlsOptions;
  /** Keys under `/<namespace>/locks/` and `/<namespace>/elections/`. Default `switchyard`. */
  namespace?: string;
  logger?: Logger;
}

/** A failed attempt waits for the key's delete, but never longer than this before trying again. */
const RETRY_MS = 250;

/**
 * Locks and elections on etcd. A lock is etcd3's Lock recipe (a key created only if absent,
 * bound to a lease kept alive while held) written out here so that the lease's `lost`
 * event and the creating revision — the fencing token — are ours to hand on; waiting
 * watches the key for its delete. Elections are etcd3's Election (campaign, observe).
 */
export class EtcdSync implements Sync {
  readonly backend = 'etcd' as const;
  readonly #client: Etcd3;
  readonly #owns: boolean;
  readonly #ns: string;
  readonly #logger: Logger | undefined;
  readonly #held = new Set<{ release(): Promise<void> }>();

  constructor(options: EtcdSyncOptions) {
    if (!options?.client && (!options?.endpoints || options.endpoints.length === 0)) {
      throw new InvalidOptionsError('EtcdSync needs "endpoints" or "client"', { details: { option: 'endpoints' } });
    }
    this.#client = options.client ?? createEtcdClient(options.endpoints!, options.tls ? { tls: options.tls } : {});
    this.#owns = options.client === undefined || options.closeClient === true;
    this.#ns = options.namespace ?? 'switchyard';
    this.#logger = options.logger;
  }

  async lock(name: string, options?: LockOptions): Promise<LockHandle> {
    checkSyncName('lock', name);
    const { ttlSec, waitMs } = checkLockOptions(options, 2);
    const key = `/${this.#ns}/locks/${name}`;
    const owner = randomBytes(8).toString('hex');
    const lease = this.#client.lease(ttlSec);
    const loss = new LossSignal();
    lease.on('lost', (err) => loss.fire(new Error(`lock ${name}: lease lost (${err.message})`)));
    const deadline = Date.now() + waitMs;
    try {
      const leaseId = await lease.grant();
      for (;;) {
        const res = await this.#client
          .if(key, 'Create', '==', 0)
          .then(this.#client.put(key).value(owner).lease(leaseId))
          .commit();
        if (res.succeeded) {
          // Loss is the lease's: etcd3 reports it when a keepalive finds the lease gone
          // (expired, revoked) or cannot reach etcd before the TTL runs out. No watch of our
          // own: it would double the round trips of every acquisition.
          return lockHandle(
            name,
            BigInt(res.header.revision),
            loss,
            this.#track(loss, () => lease.revoke()),
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) throw notAcquired('lock', name, waitMs);
        await this.#untilDeleted(key, Math.min(left, RETRY_MS));
      }
    } catch (err) {
      loss.silence();
      await lease.revoke().catch(() => {});
      throw etcdUnavailable(err, `lock ${name}`);
    }
  }

  /**
   * An idempotent release, tracked until it runs so that close() releases what is still
   * held. Releasing on purpose silences the loss listeners.
   */
  #track(loss: LossSignal, stop: () => Promise<void>): () => Promise<void> {
    let released: Promise<void> | undefined;
    const held = {
      release: () => {
        released ??= (async () => {
          loss.silence();
          this.#held.delete(held);
          await stop().catch(() => {});
        })();
        return released;
      },
    };
    this.#held.add(held);
    return held.release;
  }

  /** Resolves when `key` is deleted, or after `ms`. */
  async #untilDeleted(key: string, ms: number): Promise<void> {
    const watcher = await this.#client.watch().key(key).create();
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        watcher.on('delete', () => {
          clearTimeout(timer);
          resolve();
        });
        watcher.on('error', () => resolve());
      });
    } finally {
      await watcher.cancel().catch(() => {});
    }
  }

  async withLock<T>(name: string, work: (lock: LockHandle) => Promise<T> | T, options?: LockOptions): Promise<T> {
    return holding(await this.lock(name, options), work);
  }

  #election(name: string, ttlSec: number) {
    return this.#client.namespace(`/${this.#ns}/elections/`).election(checkSyncName('election', name), ttlSec);
  }

  async campaign(name: string, options?: CampaignOptions): Promise<Leadership> {
    const { ttlSec } = checkLockOptions({ ttlSec: options?.ttlSec ?? 10, waitMs: 0 }, 2);
    const value = options?.value ?? randomBytes(8).toString('hex');
    const campaign = this.#election(name, ttlSec).campaign(value);
    const loss = new LossSignal();
    let elected = false;
    const failed = new Promise<never>((_, reject) => {
      campaign.on('error', (err: Error) => {
        if (elected) loss.fire(new Error(`leadership of ${name} lost (${err.message})`));
        else reject(etcdUnavailable(err, `campaign ${name}`));
      });
    });
    failed.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const timeout =
      options?.waitMs === undefined
        ? undefined
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(notAcquired('leadership of', name, options.waitMs!)), options.waitMs);
          });
    try {
      await Promise.race([campaign.wait(), failed, ...(timeout ? [timeout] : [])]);
    } catch (err) {
      await campaign.resign().catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
    elected = true;
    const key = await campaign.getCampaignKey();
    const kv = await this.#client.get(key).exec();
    const fence = BigInt(kv.kvs[0]?.create_revision ?? 0);
    return leadership(
      name,
      value,
      fence,
      loss,
      this.#track(loss, () => campaign.resign()),
    );
  }

  async leader(name: string): Promise<string | undefined> {
    try {
      return await this.#election(name, 10).leader();
    } catch (err) {
      throw etcdUnavailable(err, `leader of ${name}`);
    }
  }

  async observe(name: string, listener: (leader: string | undefined) => void): Promise<() => Promise<void>> {
    // Not etcd3's ElectionObserver: waiting for a first leader, it takes the first put it
    // sees as the leader, which can be a later candidate's. Here every change under the
    // election re-reads the leader the way campaigns decide it (oldest key first).
    const prefix = `/${this.#ns}/elections/election/${checkSyncName('election', name)}/`;
    let last: string | undefined | null = null;
    let reading = Promise.resolve();
    const report = () => {
      reading = reading.then(async () => {
        try {
          const res = await this.#client.getAll().prefix(prefix).sort('Create', 'Ascend').limit(1).exec();
          const now = res.kvs[0]?.value.toString();
          if (now !== last) {
            last = now;
            listener(now);
          }
        } catch (err) {
          this.#logger?.warn({ err: (err as Error).message, name }, 'sync: reading an election leader failed');
        }
      });
      return reading;
    };
    const watcher = await this.#call('observe', () => this.#client.watch().prefix(prefix).create());
    watcher.on('data', () => void report());
    watcher.on('error', (err: Error) =>
      this.#logger?.warn({ err: err.message, name }, 'sync: observing an election failed'),
    );
    await report();
    return async () => {
      await watcher.cancel().catch(() => {});
      await reading;
    };
  }

  async #call<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw etcdUnavailable(err, what);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#held].map((h) => h.release()));
    if (this.#owns) this.#client.close();
  }
}
