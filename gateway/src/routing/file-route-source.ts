import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { InvalidArgumentError, InvalidOptionsError, NotFoundError, type SwitchyardError } from '@switchyard/broker';
import { parse as parseYaml } from 'yaml';
import { isRoutingLogger, type RoutingLogger, silentRoutingLogger } from './logger.js';
import type { RouteEntry, RouteSnapshot, RouteSource } from './route-source.js';

/**
 * Routes from a YAML or JSON file (embedded mode): either a list of routes or an object
 * `{ routes: [...] }`. The file's directory is watched (editors replace files rather than
 * write them in place, which a watch on the file itself would miss) and changes are
 * re-read after a short debounce. A file that cannot be read or parsed later on is
 * logged and leaves the previous routes in place (`synced` false until it parses again).
 * Unlike a store that is down, a file missing or broken at `start()` rejects it: that is
 * a configuration mistake to fix before serving.
 */

export interface FileRouteSourceOptions {
  /** Path of the routes file (.yaml, .yml or .json). Required. */
  path: string;
  /** Quiet time after a change before the file is re-read, in ms. Default 50. */
  debounceMs?: number;
  /** pino-compatible logger. Default: silent. */
  logger?: RoutingLogger;
}

export const FILE_ROUTE_SOURCE_DEFAULTS = Object.freeze({ debounceMs: 50 });

export class FileRouteSource implements RouteSource {
  readonly kind = 'file';
  readonly path: string;
  private readonly debounceMs: number;
  private readonly logger: RoutingLogger;
  private listener: ((snapshot: RouteSnapshot) => void) | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastText: string | undefined;
  private readable = false;
  private current = false;
  private state: 'new' | 'started' | 'closed' = 'new';
  private starting: Promise<void> | undefined;
  private reloading: Promise<void> = Promise.resolve();
  /** Why the last read failed, if it did. */
  lastError: SwitchyardError | undefined;

  constructor(options: FileRouteSourceOptions) {
    if (typeof options !== 'object' || options === null) throw bad('options', 'must be an object');
    if (typeof options.path !== 'string' || options.path === '') throw bad('path', 'must be a non-empty string');
    const debounceMs = options.debounceMs ?? FILE_ROUTE_SOURCE_DEFAULTS.debounceMs;
    if (!Number.isFinite(debounceMs) || debounceMs < 0) throw bad('debounceMs', 'must be a number >= 0');
    const logger = options.logger ?? silentRoutingLogger;
    if (!isRoutingLogger(logger)) throw bad('logger', 'must be a pino-compatible logger');
    this.path = resolve(options.path);
    this.debounceMs = debounceMs;
    this.logger = logger;
  }

  get synced(): boolean {
    return this.state === 'started' && this.current;
  }

  get connected(): boolean {
    return this.state === 'started' && this.readable;
  }

  /** Reads the file once (rejects when it is missing or broken), then watches it. Idempotent. */
  start(onSnapshot: (snapshot: RouteSnapshot) => void): Promise<void> {
    this.starting ??= (async () => {
      if (this.state === 'closed') return;
      this.state = 'started';
      this.listener = onSnapshot;
      await this.reload();
      if (this.lastError) {
        const err = this.lastError;
        await this.close();
        throw err;
      }
      if (this.state !== 'started') return;
      const name = basename(this.path);
      this.watcher = watch(dirname(this.path), { persistent: true }, (_event, filename) => {
        if (filename === null || filename === name) this.schedule();
      });
      this.watcher.on('error', (err) => {
        this.logger.error({ err, path: this.path }, 'routes: watching the routes file failed; changes are not seen');
        this.readable = false;
        this.current = false;
      });
    })();
    return this.starting;
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.listener = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    await this.reloading;
  }

  private schedule(): void {
    if (this.state !== 'started') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reloading = this.reloading.then(() => this.reload());
    }, this.debounceMs);
  }

  /** Read, parse and deliver; never throws (failures land in `lastError`). */
  private async reload(): Promise<void> {
    try {
      let text: string;
      try {
        text = await readFile(this.path, 'utf8');
      } catch (err) {
        this.readable = false;
        this.current = false;
        throw new NotFoundError(`cannot read the routes file ${this.path}`, {
          cause: err,
          details: { path: this.path },
        });
      }
      this.readable = true;
      if (text === this.lastText && this.current) return;
      const items = parseRoutesFile(text, this.path);
      this.lastText = text;
      this.lastError = undefined;
      this.current = true;
      if (this.state !== 'started' || !this.listener) return;
      const shown = basename(this.path);
      const entries: RouteEntry[] = items.map((value, i) => {
        const id = (value as { id?: unknown } | null)?.id;
        return {
          id: typeof id === 'string' ? id : undefined,
          origin: `${shown}[${i}]`,
          value,
          fingerprint: JSON.stringify(value) ?? 'undefined',
        };
      });
      try {
        this.listener({ entries });
      } catch (err) {
        this.logger.error({ err }, 'routes: a route file listener threw; ignored');
      }
    } catch (err) {
      this.current = false;
      this.lastError = err as SwitchyardError;
      this.logger.error(
        { err, path: this.path },
        'routes: the routes file cannot be used; the previous routes keep serving',
      );
    }
  }
}

/** The route list of a routes file: a list, or `{ routes: [...] }`. Throws INVALID_ARGUMENT. */
export function parseRoutesFile(text: string, path = 'routes file'): unknown[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InvalidArgumentError(`${path} is not valid YAML/JSON: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return [];
  if (Array.isArray(doc)) return doc;
  if (typeof doc === 'object' && Array.isArray((doc as { routes?: unknown }).routes)) {
    return (doc as { routes: unknown[] }).routes;
  }
  throw new InvalidArgumentError(`${path} must hold a list of routes or an object with a "routes" list`);
}

function bad(option: string, problem: string): InstanceType<typeof InvalidOptionsError> {
  return new InvalidOptionsError(`FileRouteSource option "${option}" ${problem}`, { details: { option } });
}
