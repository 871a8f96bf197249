import type { Logger } from 'pino';

/** Something that closes gracefully: a service, an infrastructure, a gateway. */
export interface Closeable {
  close(): Promise<void>;
}

export interface ShutdownOptions {
  /** Default ['SIGTERM', 'SIGINT']. */
  signals?: readonly NodeJS.Signals[];
  /** Exit anyway after this long, with code 1, ms. Default 30000. */
  timeoutMs?: number;
  /** Call `process.exit` once closed (0, or 1 when a close failed). Default true. */
  exit?: boolean;
  logger?: Pick<Logger, 'info' | 'error' | 'warn'>;
}

/**
 * On the first SIGTERM/SIGINT, close `targets` one after another (services before the
 * infrastructure they share), then exit. A second signal while closing exits at once
 * with code 1. Returns a function that removes the handlers.
 */
export function installShutdownHandlers(
  targets: Closeable | readonly Closeable[],
  options: ShutdownOptions = {},
): () => void {
  const list = Array.isArray(targets) ? [...(targets as readonly Closeable[])] : [targets as Closeable];
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const timeoutMs = options.timeoutMs ?? 30_000;
  const exit = options.exit ?? true;
  const logger = options.logger;
  let closing = false;

  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger?.warn({ signal }, 'second signal while shutting down: exiting now');
      process.exit(1);
    }
    closing = true;
    logger?.info({ signal }, 'shutting down gracefully');
    const timer = setTimeout(() => {
      logger?.error({ timeoutMs }, 'graceful shutdown timed out: exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    void (async () => {
      let code = 0;
      for (const t of list) {
        try {
          await t.close();
        } catch (err) {
          code = 1;
          logger?.error({ err }, 'close failed during shutdown');
        }
      }
      clearTimeout(timer);
      logger?.info({}, 'shut down');
      if (exit) process.exit(code);
    })();
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
