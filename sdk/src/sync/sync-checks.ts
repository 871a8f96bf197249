import { DeadlineExceededError, InvalidArgumentError } from '@switchyard/broker';
import type { Held, Leadership, LockHandle, LockOptions } from './sync.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function checkSyncName(what: 'lock' | 'election', name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(`${what} name must be a non-empty string`, { details: { name } });
  }
  if (!NAME.test(name)) {
    throw new InvalidArgumentError(`${what} name ${JSON.stringify(name)} must match ${NAME.source}`, {
      details: { name },
    });
  }
  return name;
}

export function checkLockOptions(options: LockOptions | undefined, minTtl: number): { ttlSec: number; waitMs: number } {
  const ttlSec = options?.ttlSec ?? 10;
  const waitMs = options?.waitMs ?? 10_000;
  if (!Number.isInteger(ttlSec) || ttlSec < minTtl || ttlSec > 3600) {
    throw new InvalidArgumentError(
      `lock ttlSec must be a whole number from ${minTtl} to 3600, got ${JSON.stringify(ttlSec)}`,
    );
  }
  if (!Number.isInteger(waitMs) || waitMs < 0) {
    throw new InvalidArgumentError(`lock waitMs must be a whole number >= 0, got ${JSON.stringify(waitMs)}`);
  }
  return { ttlSec, waitMs };
}

export function notAcquired(what: string, name: string, waitMs: number) {
  return new DeadlineExceededError(
    `${what} ${JSON.stringify(name)} was not acquired within ${waitMs} ms: another holder has it`,
    {
      details: { name, waitMs },
    },
  );
}

/** Listeners of a held thing, told once when it is lost. */
export class LossSignal {
  #lost = false;
  #listeners: Array<(reason: Error) => void> = [];

  get lost(): boolean {
    return this.#lost;
  }

  on(listener: (reason: Error) => void): void {
    this.#listeners.push(listener);
  }

  fire(reason: Error): void {
    if (this.#lost) return;
    this.#lost = true;
    for (const l of this.#listeners.splice(0)) {
      try {
        l(reason);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** Released on purpose: nobody is told. */
  silence(): void {
    this.#listeners = [];
  }
}

/** Run `work` holding `lock`, and unlock whatever happens (withLock of every Sync). */
export async function holding<T>(lock: LockHandle, work: (lock: LockHandle) => Promise<T> | T): Promise<T> {
  try {
    return await work(lock);
  } finally {
    await lock.unlock();
  }
}

/** What every lock and leadership shows: its name, fence and loss. */
class HeldView implements Held {
  constructor(
    readonly name: string,
    readonly fence: bigint,
    private readonly loss: LossSignal,
  ) {}

  get lost(): boolean {
    return this.loss.lost;
  }

  onLost(listener: (reason: Error) => void): void {
    this.loss.on(listener);
  }
}

export function lockHandle(name: string, fence: bigint, loss: LossSignal, unlock: () => Promise<void>): LockHandle {
  return Object.assign(new HeldView(name, fence, loss), { unlock });
}

export function leadership(
  name: string,
  value: string,
  fence: bigint,
  loss: LossSignal,
  resign: () => Promise<void>,
): Leadership {
  return Object.assign(new HeldView(name, fence, loss), { value, resign });
}
