import { isDeepStrictEqual } from 'node:util';
import { ClosedError, ConfigInvalidError, InvalidOptionsError, type Violation } from '@switchyard/broker';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { isPinoLogger, type Logger } from '../config/logger.js';
import { createAjv } from '../schemas/schema-compiler.js';
import { toViolations } from '../schemas/violations.js';
import {
  type ConfigDocument,
  deepFreeze,
  deepMerge,
  getAt,
  isObject,
  leaves,
  parsePath,
  setAt,
} from './config-paths.js';
import type { ConfigSource } from './config-source.js';
import { EnvConfigSource, type EnvConfigSourceOptions } from './env-config-source.js';
import { FileConfigSource, type FileConfigSourceOptions } from './file-config-source.js';
import { SecretFilesSource, type SecretFilesSourceOptions } from './secret-files-source.js';
import { StaticConfigSource } from './static-config-source.js';

export interface DynamicConfigOptions {
  /** JSON Schema 2020-12 of the merged document: checked at start and on every change. Default: none (anything goes). */
  schema?: object;
  /** The bottom layer. Default `{}`. */
  defaults?: ConfigDocument;
  /** A YAML or JSON file, watched. Default: none. */
  file?: string | FileConfigSourceOptions;
  /**
   * The shared, watched layer: `EtcdConfigSource` with servers, `MemoryConfigSource`
   * embedded. It stays its owner's: started by `start()`, not closed by `close()` (several
   * configs may share it). Default: none (a service passes `infra.configSource(name)`).
   */
  remote?: ConfigSource;
  /** Secret files (Docker/Kubernetes secrets), over the remote layer. Default: none. */
  secrets?: SecretFilesSourceOptions;
  /** The environment (`SWITCHYARD_CONFIG_*` and a declared mapping). Default on; `false` for none. */
  env?: EnvConfigSourceOptions | false;
  /** The top layer, set from code. Default `{}`. */
  overrides?: ConfigDocument;
  /** Where refusals and changes are logged (paths only, never values). Default: silent. */
  logger?: Logger;
}

/** What `watch()` listeners receive besides the new and old value. */
export interface ConfigChange {
  /** Increments with every accepted change; 1 is the config read at start. */
  readonly version: number;
  /** The layer whose change this was. */
  readonly source: string;
}

export type ConfigWatcher<V = unknown> = (next: V | undefined, prev: V | undefined, change: ConfigChange) => void;

/** The last change that was refused (the config kept serving the one before it). */
export interface ConfigRefusal {
  readonly at: string;
  readonly source: string;
  readonly violations: readonly Violation[];
}

export interface ConfigStatus {
  /** Every watched layer is in touch with its source (false while etcd is unreachable: values may be stale). */
  readonly synced: boolean;
  readonly version: number;
  readonly sources: ReadonlyArray<{ name: string; synced: boolean }>;
  readonly lastRefusal: ConfigRefusal | undefined;
}

/** What `redacted()` puts where a secret layer set the value. */
export const REDACTED = '[redacted]';

const KNOWN = new Set(['schema', 'defaults', 'file', 'remote', 'secrets', 'env', 'overrides', 'logger']);

/**
 * A service's config: layers merged in one documented order, lowest first —
 * defaults < file < remote (etcd) < secrets < environment < overrides — objects merged
 * key by key, anything else (arrays too) replaced by the higher layer. The merged
 * document is checked against the schema at start (an invalid one fails `start()` with
 * CONFIG_INVALID) and on every change: a change that fails is refused and logged, and
 * the last good config keeps serving. Values handed out are frozen copies.
 */
export class DynamicConfig<T extends object = ConfigDocument> {
  readonly #layers: ConfigSource[];
  /** The layers this config made, and closes; the remote one is its owner's. */
  readonly #owned: ConfigSource[];
  readonly #validate: ValidateFunction | undefined;
  readonly #logger: Logger | undefined;
  readonly #watchers = new Set<{ segments: readonly string[]; fn: ConfigWatcher<never> }>();
  readonly #unsubscribe: Array<() => void> = [];
  #value: ConfigDocument = deepFreeze({});
  #version = 0;
  #lastRefusal: ConfigRefusal | undefined;
  #starting: Promise<void> | undefined;
  #closed = false;

  /** Throws INVALID_OPTIONS naming a bad option (an unknown key, a schema that does not compile). */
  constructor(options: DynamicConfigOptions = {}) {
    if (!isObject(options as unknown)) throw new InvalidOptionsError('config options must be an object');
    for (const k of Object.keys(options)) {
      if (!KNOWN.has(k)) {
        throw new InvalidOptionsError(`unknown config option "${k}" (known: ${[...KNOWN].join(', ')})`, {
          details: { option: k },
        });
      }
    }
    if (options.logger !== undefined && !isPinoLogger(options.logger)) {
      throw new InvalidOptionsError('config option "logger" must be a pino logger', { details: { option: 'logger' } });
    }
    this.#logger = options.logger;
    if (options.schema !== undefined) {
      if (!isObject(options.schema)) {
        throw new InvalidOptionsError('config option "schema" must be a JSON Schema object', {
          details: { option: 'schema' },
        });
      }
      try {
        this.#validate = createAjv().compile(options.schema);
      } catch (err) {
        throw new InvalidOptionsError(`config option "schema" does not compile: ${(err as Error).message}`, {
          details: { option: 'schema' },
        });
      }
    }
    const layers: ConfigSource[] = [new StaticConfigSource('defaults', options.defaults ?? {})];
    if (options.file !== undefined) {
      const file = typeof options.file === 'string' ? { path: options.file } : options.file;
      layers.push(new FileConfigSource({ ...(this.#logger ? { logger: this.#logger } : {}), ...file }));
    }
    if (options.remote !== undefined) {
      const r = options.remote as Partial<ConfigSource> | null;
      if (typeof r?.current !== 'function' || typeof r.subscribe !== 'function' || typeof r.start !== 'function') {
        throw new InvalidOptionsError(
          'config option "remote" must be a ConfigSource (EtcdConfigSource, MemoryConfigSource)',
          {
            details: { option: 'remote' },
          },
        );
      }
      layers.push(options.remote);
    }
    if (options.secrets !== undefined) {
      layers.push(
        new SecretFilesSource({
          ...(options.schema ? { schema: options.schema } : {}),
          ...(this.#logger ? { logger: this.#logger } : {}),
          ...options.secrets,
        }),
      );
    }
    if (options.env !== false) {
      layers.push(new EnvConfigSource({ ...(options.schema ? { schema: options.schema } : {}), ...options.env }));
    }
    layers.push(new StaticConfigSource('overrides', options.overrides ?? {}));
    this.#layers = layers;
    this.#owned = layers.filter((l) => l !== options.remote);
  }

  /** Read every layer, check the merged config, begin watching. Idempotent. Rejects with CONFIG_INVALID when the config fails its schema. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('config is closed'));
    this.#starting ??= this.#start();
    return this.#starting;
  }

  /** The merged config (after `start()`), frozen. */
  get value(): Readonly<T> {
    return this.#value as Readonly<T>;
  }

  /** The value at a dotted path (`features.checkout`; '' is the whole config), or `fallback` when unset. */
  get<V = unknown>(path: string, fallback?: V): V | undefined {
    const v = getAt(this.#value, parsePath(path));
    return (v === undefined ? fallback : v) as V | undefined;
  }

  /**
   * Call `fn(next, prev)` whenever the value at `path` changes (deeply compared), in the
   * same tick the change is accepted. Returns the unsubscribe function.
   */
  watch<V = unknown>(path: string, fn: ConfigWatcher<V>): () => void {
    const segments = parsePath(path);
    if (typeof fn !== 'function') throw new InvalidOptionsError('config.watch() needs a function to call');
    const entry = { segments, fn: fn as ConfigWatcher<never> };
    this.#watchers.add(entry);
    return () => {
      this.#watchers.delete(entry);
    };
  }

  get version(): number {
    return this.#version;
  }

  get synced(): boolean {
    return this.#layers.every((l) => l.synced);
  }

  status(): ConfigStatus {
    return {
      synced: this.synced,
      version: this.#version,
      sources: this.#layers.map((l) => ({ name: l.name, synced: l.synced })),
      lastRefusal: this.#lastRefusal,
    };
  }

  /** The merged config with every value a secret layer set replaced by `[redacted]`: safe to log or show. */
  redacted(): ConfigDocument {
    const out = structuredClone(this.#value) as ConfigDocument;
    for (const layer of this.#layers) {
      if (!layer.secret) continue;
      for (const [segments] of leaves(layer.current())) setAt(out, segments, REDACTED);
    }
    return out;
  }

  /** Stop watching every layer. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#starting?.catch(() => undefined);
    for (const u of this.#unsubscribe.splice(0)) u();
    this.#watchers.clear();
    await this.#closeOwned();
  }

  async #closeOwned(): Promise<void> {
    await Promise.all(this.#owned.map((l) => l.close().catch(() => undefined)));
  }

  async #start(): Promise<void> {
    try {
      await Promise.all(this.#layers.map((l) => l.start()));
    } catch (err) {
      await this.#closeOwned();
      throw err;
    }
    const merged = this.#merge();
    const violations = this.#check(merged);
    if (violations.length > 0) {
      await this.#closeOwned();
      throw new ConfigInvalidError(`config is invalid: ${summary(violations)}`, { details: { violations } });
    }
    this.#value = merged;
    this.#version = 1;
    for (const layer of this.#layers) this.#unsubscribe.push(layer.subscribe(() => this.#onLayerChange(layer)));
  }

  #merge(): ConfigDocument {
    let merged: unknown = {};
    for (const l of this.#layers) merged = deepMerge(merged, l.current());
    return deepFreeze(structuredClone(merged) as ConfigDocument);
  }

  #check(doc: ConfigDocument): Violation[] {
    if (!this.#validate || this.#validate(doc)) return [];
    return toViolations(this.#validate.errors);
  }

  #onLayerChange(layer: ConfigSource): void {
    if (this.#closed) return;
    const next = this.#merge();
    const prev = this.#value;
    if (isDeepStrictEqual(next, prev)) return; // a sync flip, or a write of the value already there
    const violations = this.#check(next);
    if (violations.length > 0) {
      this.#lastRefusal = { at: new Date().toISOString(), source: layer.name, violations };
      // Violations name pointers and the schema's words, never the refused values.
      this.#logger?.warn(
        { source: layer.name, violations, version: this.#version },
        'config change refused: it fails the schema; the last good config keeps serving',
      );
      return;
    }
    this.#value = next;
    this.#version++;
    const change: ConfigChange = { version: this.#version, source: layer.name };
    this.#logger?.info(
      { source: layer.name, version: this.#version, changed: changedPaths(prev, next) },
      'config changed',
    );
    for (const w of [...this.#watchers]) {
      const before = getAt(prev, w.segments);
      const after = getAt(next, w.segments);
      if (isDeepStrictEqual(before, after)) continue;
      try {
        w.fn(after as never, before as never, change);
      } catch (err) {
        this.#logger?.warn({ err, path: w.segments.join('.') }, 'config watcher threw; the others still ran');
      }
    }
  }
}

function summary(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.pointer || '/'}: ${v.message}`).join('; ');
}

/** The dotted paths whose values differ, at most 50: what a change log line names instead of values. */
function changedPaths(prev: ConfigDocument, next: ConfigDocument): string[] {
  const out = new Set<string>();
  for (const doc of [prev, next]) {
    for (const [segments] of leaves(doc)) {
      if (out.size >= 50) break;
      if (!isDeepStrictEqual(getAt(prev, segments), getAt(next, segments))) out.add(segments.join('.'));
    }
  }
  return [...out];
}
