import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidOptionsError } from '@switchyard/broker';
import type { Logger } from '../config/logger.js';
import { type ConfigDocument, deepFreeze, parsePath, setAt } from './config-paths.js';
import { type ConfigSource, SourceListeners } from './config-source.js';
import { coerceText, resolveSegments } from './schema-hints.js';

export const DEFAULT_SECRETS_DIR = '/run/secrets';

export interface SecretFilesSourceOptions {
  /** A directory of one file a secret (Docker secrets, a mounted Kubernetes Secret). Default `/run/secrets`. */
  dir?: string;
  /** File names and the dotted path each sets, e.g. `{ db_password: 'database.password' }`. Default: every file, `__` separating parts. */
  mapping?: Readonly<Record<string, string>>;
  /** A missing directory is an empty layer instead of an error at start. Default false. */
  optional?: boolean;
  /** Read again when the directory changes (Kubernetes swaps a `..data` link on rotation). Default true. */
  watch?: boolean;
  schema?: unknown;
  logger?: Logger;
}

const SETTLE_MS = 30;

/**
 * Secrets as files. Their values never reach a log line: this layer is marked secret, so
 * `DynamicConfig` logs only the paths it changed, and `redacted()` hides them. A trailing
 * newline (what `echo` and most editors leave) is not part of the secret.
 */
export class SecretFilesSource implements ConfigSource {
  readonly secret = true;
  readonly synced = true;
  readonly name: string;
  readonly #dir: string;
  readonly #options: SecretFilesSourceOptions;
  readonly #listeners = new SourceListeners();
  #doc: ConfigDocument = deepFreeze({});
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SecretFilesSourceOptions = {}) {
    this.#dir = resolve(options.dir ?? DEFAULT_SECRETS_DIR);
    this.#options = options;
    this.name = `secrets ${this.#dir}`;
    for (const [file, path] of Object.entries(options.mapping ?? {})) {
      try {
        parsePath(path);
      } catch (err) {
        throw new InvalidOptionsError(`config option "secrets.mapping.${file}": ${(err as Error).message}`, {
          details: { option: `secrets.mapping.${file}` },
        });
      }
    }
  }

  async start(): Promise<void> {
    const exists = await stat(this.#dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!exists) {
      if (this.#options.optional) return;
      throw new InvalidOptionsError(`config secrets directory ${this.#dir} does not exist`, {
        details: { option: 'secrets.dir' },
      });
    }
    this.#doc = await this.#read();
    if ((this.#options.watch ?? true) && !this.#closed) {
      this.#watcher = watch(this.#dir, () => {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.#reload(), SETTLE_MS);
      });
      this.#watcher.on('error', (err) =>
        this.#options.logger?.warn({ err, source: this.name }, 'config secrets watch failed'),
      );
    }
  }

  current(): ConfigDocument {
    return this.#doc;
  }

  subscribe(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#listeners.clear();
  }

  async #reload(): Promise<void> {
    try {
      const next = await this.#read();
      if (this.#closed) return;
      this.#doc = next;
      this.#listeners.notify();
    } catch (err) {
      // The error names a file, never its content.
      this.#options.logger?.warn(
        { source: this.name, reason: (err as Error).message },
        'config secrets could not be read again; the last ones stay',
      );
    }
  }

  async #read(): Promise<ConfigDocument> {
    const doc: ConfigDocument = {};
    const mapping = this.#options.mapping;
    const names = mapping ? Object.keys(mapping) : await readdir(this.#dir);
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const file = join(this.#dir, name);
      const isFile = await stat(file).then(
        (s) => s.isFile(),
        () => false,
      );
      if (!isFile) continue;
      let segments: readonly string[];
      if (mapping) segments = parsePath(mapping[name]!);
      else {
        const raw = name.split('__');
        if (raw.some((s) => !/^[A-Za-z0-9_-]+$/.test(s))) continue;
        segments = resolveSegments(raw, this.#options.schema);
      }
      const text = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
      setAt(doc, segments, coerceText(text, segments, this.#options.schema));
    }
    return deepFreeze(doc);
  }
}
