import { type Logger, pino } from 'pino';

/**
 * The logger used when none is given: pino to stdout at `info`. Applications usually
 * pass their own (`logger` option) so every component writes to one destination.
 */
export function defaultLogger(): Logger {
  return pino({ level: 'info' });
}

export function isPinoLogger(value: unknown): value is Logger {
  const l = value as Logger | null;
  return (
    typeof l === 'object' &&
    l !== null &&
    typeof l.child === 'function' &&
    typeof l.info === 'function' &&
    typeof l.warn === 'function' &&
    typeof l.error === 'function' &&
    typeof l.debug === 'function'
  );
}

export type { Logger };
