import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { InvalidArgumentError, InvalidOptionsError } from '@switchyard/broker';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '../config/logger.js';
import { type ConfigDocument, deepFreeze, isObject } from './config-paths.js';
import { type ConfigSource, SourceListeners } from './config-source.js';

export interface FileConfigSourceOptions {
  /** A `.yaml`, `.yml` or `.json` file. Required. */
  path: string;
  /** Reload when the file changes. Default true. */
  watch?: boolean;
  /** A missing file is an empty layer instead of an error at start. Default false. */
  optional?: boolean;
  logger?: Logger;
}

/** Editors and `kubectl` replace a file in several steps: read once they are done. */
const SETTLE_MS = 30;

/**
 * A YAML or JSON file. The directory is watched, not the file: editors save by writing a
 * new file and renaming it over the old one, and ConfigMaps swap a symlink, both of which
 * a watch on the file itself misses. A file that no longer parses is refused and logged
 * with the parser's line and column; the layer keeps its last good content.
 */
export class FileConfigSource implements ConfigSource {
  readonly name: string;
  readonly synced = true;
  readonly #path: string;
  readonly #watch: boolean;
  readonly #optional: boolean;
  readonly #logger: Logger | undefined;
  readonly #listeners = new SourceListeners();
  #doc: ConfigDocument = deepFreeze({});
  #text: string | undefined;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: FileConfigSourceOptions) {
    if (typeof options?.path !== 'string' || options.path === '') {
      throw new InvalidOptionsError('config option "file" must be a path to a .yaml, .yml or .json file', {
        details: { option: 'file' },
      });
    }
    this.#path = resolve(options.path);
    if (!['.yaml', '.yml', '.json'].includes(extname(this.#path))) {
      throw new InvalidOptionsError(`config file ${options.path} must end in .yaml, .yml or .json`, {
        details: { option: 'file' },
      });
    }
    this.#watch = options.watch ?? true;
    this.#optional = options.optional ?? false;
    this.#logger = options.logger;
    this.name = `file ${options.path}`;
  }

  async start(): Promise<void> {
    const first = await this.#read();
    if (first instanceof Error) throw first;
    if (first) this.#doc = first;
    if (this.#watch && !this.#closed) {
      this.#watcher = watch(dirname(this.#path), (_event, name) => {
        if (name === null || name === basename(this.#path) || name.startsWith('..')) this.#schedule();
      });
      this.#watcher.on('error', (err) => this.#logger?.warn({ err, source: this.name }, 'config file watch failed'));
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

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#reload(), SETTLE_MS);
  }

  async #reload(): Promise<void> {
    const next = await this.#read();
    if (this.#closed || next === undefined) return;
    if (next instanceof Error) {
      this.#logger?.warn(
        { source: this.name, reason: next.message },
        'config file change refused: it does not parse; the last good content keeps serving',
      );
      return;
    }
    this.#doc = next;
    this.#listeners.notify();
  }

  /** The parsed document; undefined when the text is unchanged; an error to report when it does not parse. */
  async #read(): Promise<ConfigDocument | Error | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && this.#optional) text = '';
      else if (code === 'ENOENT' && this.#text !== undefined)
        return undefined; // mid-rename: the next event reads it
      else return new InvalidOptionsError(`config file ${this.#path} cannot be read (${code ?? String(err)})`);
    }
    if (text === this.#text) return undefined;
    let value: unknown;
    try {
      value = extname(this.#path) === '.json' ? (text.trim() === '' ? {} : JSON.parse(text)) : (parseYaml(text) ?? {});
    } catch (err) {
      return new InvalidArgumentError(`config file ${this.#path} does not parse: ${(err as Error).message}`, {
        details: { file: this.#path },
      });
    }
    if (!isObject(value)) return new InvalidArgumentError(`config file ${this.#path} must hold an object at the top`);
    this.#text = text;
    return deepFreeze(value);
  }
}
