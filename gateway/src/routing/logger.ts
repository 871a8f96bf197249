/** The subset of a pino logger routing uses; pino loggers fit as they are. */
export interface RoutingLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** The default: a library stays quiet unless the application hands it a logger. */
export const silentRoutingLogger: RoutingLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

export function isRoutingLogger(x: unknown): x is RoutingLogger {
  if (typeof x !== 'object' || x === null) return false;
  const l = x as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error'].every((m) => typeof l[m] === 'function');
}
