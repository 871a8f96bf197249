import { InvalidOptionsError } from '@switchyard/broker';
import { type ConfigDocument, deepFreeze, parsePath, setAt } from './config-paths.js';
import type { ConfigSource } from './config-source.js';
import { coerceText, resolveSegments } from './schema-hints.js';

export const CONFIG_ENV_PREFIX = 'SWITCHYARD_CONFIG_';

export interface EnvConfigSourceOptions {
  /** Where variables are read. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Variables named `<prefix><PART>__<PART>` set the path `part.part`. Default `SWITCHYARD_CONFIG_`; `false` for none. */
  prefix?: string | false;
  /** Exact variables and the dotted path each sets, e.g. `{ LOG_LEVEL: 'log.level' }`; they win over prefixed ones. */
  mapping?: Readonly<Record<string, string>>;
  /** The config's schema, to spell property names as it does and to read "5" as a number only where a number is expected. */
  schema?: unknown;
}

/**
 * The environment, read once at start (a process's environment does not change under
 * it). `__` separates parts because a single `_` is common inside names.
 */
export class EnvConfigSource implements ConfigSource {
  readonly synced = true;
  readonly name: string;
  readonly #doc: ConfigDocument;

  constructor(options: EnvConfigSourceOptions = {}) {
    const env = options.env ?? process.env;
    const prefix = options.prefix === undefined ? CONFIG_ENV_PREFIX : options.prefix;
    if (prefix !== false && (typeof prefix !== 'string' || prefix === '')) {
      throw new InvalidOptionsError('config option "env.prefix" must be a non-empty string or false', {
        details: { option: 'env.prefix' },
      });
    }
    this.name = prefix ? `env ${prefix}*` : 'env';
    const doc: ConfigDocument = {};
    if (prefix) {
      for (const [name, value] of Object.entries(env)) {
        if (!name.startsWith(prefix) || value === undefined || name.length === prefix.length) continue;
        const raw = name.slice(prefix.length).split('__');
        if (raw.some((s) => !/^[A-Za-z0-9_-]+$/.test(s))) continue;
        const segments = resolveSegments(raw, options.schema);
        setAt(doc, segments, coerceText(value, segments, options.schema));
      }
    }
    for (const [name, path] of Object.entries(options.mapping ?? {})) {
      let segments: readonly string[];
      try {
        segments = parsePath(path);
      } catch (err) {
        throw new InvalidOptionsError(`config option "env.mapping.${name}": ${(err as Error).message}`, {
          details: { option: `env.mapping.${name}` },
        });
      }
      const value = env[name];
      if (value !== undefined) setAt(doc, segments, coerceText(value, segments, options.schema));
    }
    this.#doc = deepFreeze(doc);
  }

  async start(): Promise<void> {}

  current(): ConfigDocument {
    return this.#doc;
  }

  subscribe(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {}
}
