import { invalidOption, isPlainObject, knownKeys } from '../config/option-checks.js';

/** Who may use the console. */
export type ConsoleAuthMode = 'operator' | 'admin-port';

export interface GatewayConsoleOptions {
  /**
   * `operator` (default): every console request needs a credential with `operatorScope`
   * (401 without one, 403 without the scope). `admin-port`: no check at all — anyone who
   * reaches the admin listener is an operator, so that listener must be private.
   */
  auth?: ConsoleAuthMode;
  /** Scope an operator's token must carry. Default `switchyard:operator`. */
  operatorScope?: string;
  /** Directory of the built bundle (`npm run build:console`). Default: `gateway/console/dist` of this package. */
  assetsDir?: string;
  /** How often metrics are sampled for the charts, ms. Default 5000. */
  sampleIntervalMs?: number;
  /** Samples kept per series (the charts' width). Default 120 (10 minutes at 5 s). */
  samples?: number;
  /** Recent errors kept for the errors panel. Default 100. */
  recentErrors?: number;
}

export type ResolvedConsoleOptions = Readonly<Required<Omit<GatewayConsoleOptions, 'assetsDir'>>> & {
  readonly assetsDir: string | undefined;
};

export const CONSOLE_DEFAULTS = Object.freeze({
  auth: 'operator' as ConsoleAuthMode,
  operatorScope: 'switchyard:operator',
  sampleIntervalMs: 5_000,
  samples: 120,
  recentErrors: 100,
});

const KNOWN = ['auth', 'operatorScope', 'assetsDir', 'sampleIntervalMs', 'samples', 'recentErrors'];
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/;

/** `console` of GatewayOptions: `false` (not served) or the settings with their defaults. */
export function resolveConsole(value: unknown): ResolvedConsoleOptions | false {
  if (value === false) return false;
  if (value !== undefined && !isPlainObject(value)) {
    throw invalidOption('console', 'must be false or an object { auth, operatorScope, assetsDir, ... }');
  }
  const o = (value ?? {}) as Record<string, unknown>;
  knownKeys('console', o, KNOWN);
  const auth = o.auth ?? CONSOLE_DEFAULTS.auth;
  if (auth !== 'operator' && auth !== 'admin-port') {
    throw invalidOption('console.auth', `must be "operator" or "admin-port", got ${JSON.stringify(auth)}`);
  }
  const operatorScope = o.operatorScope ?? CONSOLE_DEFAULTS.operatorScope;
  if (typeof operatorScope !== 'string' || !SCOPE.test(operatorScope)) {
    throw invalidOption(
      'console.operatorScope',
      `must be a scope without spaces, got ${JSON.stringify(operatorScope)}`,
    );
  }
  const assetsDir = o.assetsDir;
  if (assetsDir !== undefined && (typeof assetsDir !== 'string' || assetsDir === '')) {
    throw invalidOption('console.assetsDir', 'must be a directory path');
  }
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw invalidOption(`console.${key}`, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  return Object.freeze({
    auth,
    operatorScope,
    assetsDir: assetsDir as string | undefined,
    sampleIntervalMs: int('sampleIntervalMs', CONSOLE_DEFAULTS.sampleIntervalMs, 250, 300_000),
    samples: int('samples', CONSOLE_DEFAULTS.samples, 2, 10_000),
    recentErrors: int('recentErrors', CONSOLE_DEFAULTS.recentErrors, 1, 10_000),
  });
}
