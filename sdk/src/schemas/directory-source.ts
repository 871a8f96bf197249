import { type FSWatcher, watch } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidOptionsError } from '@switchyard/broker';
import { loadSchemaDirectory } from './schema-loader.js';
import type { SchemaLogger, SchemaSnapshot, SchemaSource } from './types.js';

export interface DirectorySchemaSourceOptions {
  /** Directory holding the schemas (`**\/*.json`). Required. */
  dir: string;
  /** Reload when a file under `dir` changes (`fs.watch` on every directory): hot reload in embedded mode. Default false. */
  watch?: boolean;
  /** Quiet time after the last file event before reloading; an editor's save is several events. Default 50 ms. */
  debounceMs?: number;
  /** Default: none (problems still reach the registry's `invalid` event). */
  logger?: SchemaLogger;
}

export const DEFAULT_DIRECTORY_DEBOUNCE_MS = 50;

/** Schemas from a directory of JSON files, optionally reloaded when files change. */
export class DirectorySchemaSource implements SchemaSource {
  readonly description: string;
  private readonly dir: string;
  private readonly watchFiles: boolean;
  private readonly debounceMs: number;
  private readonly logger: SchemaLogger | undefined;
  private listener: ((snapshot: SchemaSnapshot) => void) | undefined;
  /** One watcher per directory: Node 20's recursive `fs.watch` on Linux misses files replaced by rename. */
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  /** file -> $id at its last good load, so a file that breaks is still known by its id. */
  private knownIds = new Map<string, string>();

  constructor(options: DirectorySchemaSourceOptions) {
    if (typeof options?.dir !== 'string' || options.dir === '') {
      throw new InvalidOptionsError('dir must be the path of a directory of JSON Schema files');
    }
    const debounceMs = options.debounceMs ?? DEFAULT_DIRECTORY_DEBOUNCE_MS;
    if (!Number.isFinite(debounceMs) || debounceMs < 0) {
      throw new InvalidOptionsError(`debounceMs must be a number >= 0, got ${String(options.debounceMs)}`);
    }
    this.dir = options.dir;
    this.watchFiles = options.watch ?? false;
    this.debounceMs = debounceMs;
    this.logger = options.logger;
    this.description = `directory ${options.dir}`;
  }

  async start(onSnapshot: (snapshot: SchemaSnapshot) => void): Promise<void> {
    if (this.listener || this.closed) return;
    this.listener = onSnapshot;
    if (this.watchFiles) await this.watchDirectories();
    // The first load throws when the directory cannot be read: starting without schemas is a mistake.
    onSnapshot(await this.load());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listener = undefined;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    clearTimeout(this.timer);
    await this.loading;
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), this.debounceMs);
  }

  /** One reload at a time; events during a reload cause one more reload after it. */
  private reload(): void {
    if (this.loading) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    this.loading = (async () => {
      // Watch new directories before reading them: a file written in between is then either
      // read now or announced by its directory's watcher.
      await this.watchDirectories();
      try {
        const snapshot = await this.load();
        if (!this.closed) this.listener?.(snapshot);
      } catch (err) {
        // The directory itself vanished or became unreadable: keep serving what we have.
        this.logger?.warn({ err, dir: this.dir }, 'schema directory cannot be read; keeping the loaded schemas');
      }
    })().finally(() => {
      this.loading = undefined;
      if (this.dirty && !this.closed) this.reload();
    });
  }

  /** Watch `dir` and every directory below it (directories come and go between reloads). */
  private async watchDirectories(): Promise<void> {
    if (!this.watchFiles || this.closed) return;
    let dirs: string[];
    try {
      const entries = await readdir(this.dir, { recursive: true, withFileTypes: true });
      // `parentPath` is Node >= 20.12; `path` is its older name.
      const parent = (e: { parentPath?: string; path?: string }) => e.parentPath ?? e.path ?? this.dir;
      dirs = [this.dir, ...entries.filter((e) => e.isDirectory()).map((e) => join(parent(e), e.name))];
    } catch {
      dirs = [];
    }
    if (this.closed) return;
    const wanted = new Set(dirs);
    for (const [path, w] of this.watchers) {
      if (!wanted.has(path)) {
        w.close();
        this.watchers.delete(path);
      }
    }
    for (const path of wanted) {
      if (this.watchers.has(path)) continue;
      try {
        // Any event reloads (an editor's temp file too): reloading is cheap, and debounced.
        const w = watch(path, () => this.schedule());
        w.on('error', (err) => {
          w.close();
          this.watchers.delete(path);
          this.logger?.warn({ err, dir: path }, 'schema directory watch failed');
          this.schedule();
        });
        this.watchers.set(path, w);
      } catch (err) {
        this.logger?.warn({ err, dir: path }, 'cannot watch schema directory');
      }
    }
  }

  private async load(): Promise<SchemaSnapshot> {
    const snapshot = await loadSchemaDirectory(this.dir, { knownIds: this.knownIds });
    const known = new Map<string, string>();
    for (const d of snapshot.documents) known.set(d.origin, d.id);
    for (const p of snapshot.problems) if (p.id !== undefined) known.set(p.file, p.id);
    this.knownIds = known;
    return snapshot;
  }
}
