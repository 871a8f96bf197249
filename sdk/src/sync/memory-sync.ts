import { randomBytes } from 'node:crypto';
import { ClosedError } from '@switchyard/broker';
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

interface Slot {
  holder: { value: string; loss: LossSignal } | undefined;
  /** Waiters in arrival order: FIFO, like etcd's watch-then-retry in practice. */
  waiters: Array<() => void>;
  observers: Set<(leader: string | undefined) => void>;
}

/**
 * Locks and elections within one process, for embedded mode and unit tests. The same
 * semantics as EtcdSync (fencing tokens grow, waiting is bounded, DEADLINE_EXCEEDED when
 * it runs out) except that a holder cannot die without its process, so no TTL applies.
 */
export class MemorySync implements Sync {
  readonly backend = 'memory' as const;
  readonly #locks = new Map<string, Slot>();
  readonly #elections = new Map<string, Slot>();
  #revision = 0n;
  #closed = false;

  #slot(map: Map<string, Slot>, name: string): Slot {
    if (this.#closed) throw new ClosedError('the memory sync is closed');
    let s = map.get(name);
    if (!s) {
      s = { holder: undefined, waiters: [], observers: new Set() };
      map.set(name, s);
    }
    return s;
  }

  async #acquire(slot: Slot, value: string, waitMs: number | undefined, what: string, name: string) {
    const deadline = waitMs === undefined ? undefined : Date.now() + waitMs;
    while (slot.holder) {
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) throw notAcquired(what, name, waitMs!);
      await new Promise<void>((resolve) => {
        const timer = left === undefined ? undefined : setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          const i = slot.waiters.indexOf(done);
          if (i >= 0) slot.waiters.splice(i, 1);
          resolve();
        }
        slot.waiters.push(done);
      });
    }
    const loss = new LossSignal();
    slot.holder = { value, loss };
    this.#revision++;
    for (const o of slot.observers) o(value);
    return { loss, fence: this.#revision };
  }

  #release(slot: Slot, loss: LossSignal): void {
    if (slot.holder?.loss !== loss) return;
    loss.silence();
    slot.holder = undefined;
    for (const o of slot.observers) o(undefined);
    slot.waiters.shift()?.();
  }

  async lock(name: string, options?: LockOptions): Promise<LockHandle> {
    checkSyncName('lock', name);
    const { waitMs } = checkLockOptions(options, 1);
    const slot = this.#slot(this.#locks, name);
    const { loss, fence } = await this.#acquire(slot, randomBytes(8).toString('hex'), waitMs, 'lock', name);
    return lockHandle(name, fence, loss, async () => this.#release(slot, loss));
  }

  async withLock<T>(name: string, work: (lock: LockHandle) => Promise<T> | T, options?: LockOptions): Promise<T> {
    return holding(await this.lock(name, options), work);
  }

  async campaign(name: string, options?: CampaignOptions): Promise<Leadership> {
    checkSyncName('election', name);
    const value = options?.value ?? randomBytes(8).toString('hex');
    const slot = this.#slot(this.#elections, name);
    const { loss, fence } = await this.#acquire(slot, value, options?.waitMs, 'leadership of', name);
    return leadership(name, value, fence, loss, async () => this.#release(slot, loss));
  }

  async leader(name: string): Promise<string | undefined> {
    return this.#slot(this.#elections, checkSyncName('election', name)).holder?.value;
  }

  async observe(name: string, listener: (leader: string | undefined) => void): Promise<() => Promise<void>> {
    const slot = this.#slot(this.#elections, checkSyncName('election', name));
    slot.observers.add(listener);
    listener(slot.holder?.value);
    return async () => {
      slot.observers.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
