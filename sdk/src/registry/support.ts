import type { RegistryEvent, RegistryListener, RegistryLogger } from './registry-events.js';

/** The default logger: a library stays quiet unless the application hands it a logger. */
export const silentLogger: RegistryLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Duck-typed check for a pino-compatible logger. */
export function isLogger(x: unknown): x is RegistryLogger {
  if (typeof x !== 'object' || x === null) return false;
  const l = x as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error'].every((m) => typeof l[m] === 'function');
}

/** Deliver an event without letting a listener's exception escape into the watch machinery. */
export function deliver(listener: RegistryListener, event: RegistryEvent, logger: RegistryLogger): void {
  try {
    listener(event);
  } catch (err) {
    logger.error({ err, event: event.type }, 'registry: a watch listener threw; the watch goes on');
  }
}

/** Retry delays: quick first retries, capped so recovery after an outage stays within about a second. */
export function retryDelayMs(attempt: number, capMs = 1_000): number {
  const base = Math.min(capMs, 100 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** A sleep that a closing owner can cut short. */
export class Sleeper {
  private timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.timers.add(entry);
    });
  }

  wakeAll(): void {
    for (const e of this.timers) {
      clearTimeout(e.timer);
      e.resolve();
    }
    this.timers.clear();
  }
}
