import { InvalidOptionsError, type Violation } from '@switchyard/broker';
import { isRoutingLogger, type RoutingLogger, silentRoutingLogger } from './logger.js';
import { type CompiledRoute, compileRoute, type RouteCompileResult } from './route-compiler.js';
import type { RouteEntry, RouteSnapshot, RouteSource } from './route-source.js';
import { type RouteLookup, RouteTable } from './route-table.js';

/**
 * Holds the current route table and replaces it, whole, when the source's routes change.
 * Readers take `store.table` (or call `store.match`) and get one consistent table; a swap
 * is a single reference assignment, so a request never sees half an update.
 *
 * A bad route (undecodable, fails the schema or the semantic checks, duplicate id) is
 * rejected with its reasons: logged once, announced as a `rejected` event and listed by
 * `rejected()`. It never disturbs other routes, which keep updating. If an earlier
 * version of the same id was good, that version keeps serving until the id is fixed or
 * deleted (`servingLastGood`); this "last good" memory lives in the process only, so a
 * restarted gateway serves no version of a route that is bad at startup.
 */

export interface RouteStoreOptions {
  /** Where routes come from. Required. The store starts and closes it. */
  source: RouteSource;
  /** pino-compatible logger. Default: silent. */
  logger?: RoutingLogger;
}

export interface RouteRejection {
  /** The id the entry claims, when known. */
  readonly id: string | undefined;
  /** The etcd key or `file#index`. */
  readonly origin: string;
  readonly violations: readonly Violation[];
  /** An earlier good version of this id keeps serving. */
  readonly servingLastGood: boolean;
  /** ISO 8601 time this version was first rejected. */
  readonly since: string;
}

export type RouteStoreEvent =
  | {
      readonly type: 'updated';
      readonly table: RouteTable;
      readonly added: readonly string[];
      readonly changed: readonly string[];
      readonly removed: readonly string[];
    }
  /** An entry was rejected (a new bad version, or one that now serves its last good version). */
  | { readonly type: 'rejected'; readonly rejection: RouteRejection }
  /** A rejected entry is no longer rejected: fixed, or deleted from the source. */
  | { readonly type: 'cleared'; readonly rejection: RouteRejection };

export type RouteStoreListener = (event: RouteStoreEvent) => void;

interface CacheEntry {
  readonly fingerprint: string;
  readonly result: RouteCompileResult;
}

export class RouteStore {
  private readonly source: RouteSource;
  private readonly logger: RoutingLogger;
  private current: RouteTable = RouteTable.EMPTY;
  private generation = 0;
  private cache = new Map<string, CacheEntry>();
  private rejections: readonly RouteRejection[] = [];
  /** The same rejections by identity (origin, content, reasons): a known one is not logged again. */
  private rejectionsByKey = new Map<string, RouteRejection>();
  private readonly listeners = new Set<RouteStoreListener>();
  private state: 'new' | 'started' | 'closed' = 'new';
  private starting: Promise<void> | undefined;

  constructor(options: RouteStoreOptions) {
    if (typeof options !== 'object' || options === null) throw bad('options', 'must be an object');
    const s = options.source as Partial<RouteSource> | undefined;
    if (typeof s !== 'object' || s === null || typeof s.start !== 'function' || typeof s.close !== 'function') {
      throw bad('source', 'must be a RouteSource (EtcdRouteSource, FileRouteSource, MemoryRouteSource)');
    }
    const logger = options.logger ?? silentRoutingLogger;
    if (!isRoutingLogger(logger)) throw bad('logger', 'must be a pino-compatible logger');
    this.source = options.source;
    this.logger = logger;
  }

  /** Start the source. Idempotent. Resolves once the source made its first read attempt. */
  start(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    this.starting ??= (async () => {
      this.state = 'started';
      await this.source.start((snapshot) => this.onSnapshot(snapshot));
    })();
    return this.starting;
  }

  /** Close the source; the last table stays readable. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.starting?.catch(() => {});
    await this.source.close();
    this.listeners.clear();
  }

  /** The current table. Take it once per request: it never changes under you. */
  get table(): RouteTable {
    return this.current;
  }

  /** Incremented by every table swap (0: nothing loaded yet). */
  get version(): number {
    return this.generation;
  }

  /** `table.match` on the current table. */
  match(host: string | undefined, method: string, path: string): RouteLookup {
    return this.current.match(host, method, path);
  }

  /** The table reflects the source's store now (for /readyz). */
  get synced(): boolean {
    return this.state !== 'closed' && this.source.synced;
  }

  /** The source reaches its store (for /readyz). */
  get connected(): boolean {
    return this.state !== 'closed' && this.source.connected;
  }

  /** Entries currently rejected, in source order. */
  rejected(): readonly RouteRejection[] {
    return this.rejections;
  }

  /** Follow table swaps and rejections. Returns the unsubscribe function. */
  subscribe(listener: RouteStoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private onSnapshot(snapshot: RouteSnapshot): void {
    if (this.state === 'closed') return;
    try {
      this.apply(snapshot);
    } catch (err) {
      // Never let a bug here break the source's watch; the previous table keeps serving.
      this.logger.error({ err }, 'routes: could not apply a route snapshot; the previous table keeps serving');
    }
  }

  private apply(snapshot: RouteSnapshot): void {
    const cache = new Map<string, CacheEntry>();
    const next = new Map<string, CompiledRoute>();
    const originOf = new Map<string, string>();
    const failed: { id: string | undefined; origin: string; fingerprint: string; violations: Violation[] }[] = [];
    for (const entry of snapshot.entries) {
      let cached = this.cache.get(entry.origin);
      if (!cached || cached.fingerprint !== entry.fingerprint) {
        cached = { fingerprint: entry.fingerprint, result: evaluate(entry) };
      }
      cache.set(entry.origin, cached);
      const r = cached.result;
      if (!r.ok) {
        failed.push({ id: entry.id, origin: entry.origin, fingerprint: entry.fingerprint, violations: r.violations });
        continue;
      }
      const other = originOf.get(r.route.id);
      if (other !== undefined) {
        const violations = [{ pointer: '/id', message: `duplicates the id of the route at ${other}` }];
        failed.push({ id: undefined, origin: entry.origin, fingerprint: entry.fingerprint, violations });
        continue;
      }
      next.set(r.route.id, r.route);
      originOf.set(r.route.id, entry.origin);
    }

    const byKey = new Map<string, RouteRejection>();
    const rejections: RouteRejection[] = [];
    const fresh: RouteRejection[] = [];
    for (const f of failed) {
      const lastGood = f.id === undefined || next.has(f.id) ? undefined : this.current.get(f.id);
      if (lastGood) next.set(lastGood.id, lastGood);
      const key = `${f.origin}\u0000${f.fingerprint}\u0000${JSON.stringify(f.violations)}`;
      const before = this.rejectionsByKey.get(key);
      const rejection: RouteRejection = Object.freeze({
        id: f.id,
        origin: f.origin,
        violations: Object.freeze(f.violations),
        servingLastGood: lastGood !== undefined,
        since: before?.since ?? new Date().toISOString(),
      });
      rejections.push(rejection);
      byKey.set(key, rejection);
      if (!before || before.servingLastGood !== rejection.servingLastGood) fresh.push(rejection);
    }
    const stillRejected = new Set(rejections.map((r) => r.origin));
    const cleared = this.rejections.filter((r) => !stillRejected.has(r.origin));
    this.cache = cache;
    this.rejections = Object.freeze(rejections);
    this.rejectionsByKey = byKey;

    for (const r of fresh) {
      this.logger.warn(
        { route: r.id, origin: r.origin, violations: r.violations, servingLastGood: r.servingLastGood },
        r.servingLastGood
          ? 'routes: rejected a bad route; its last good version keeps serving'
          : 'routes: rejected a bad route; it is not served',
      );
      this.emit({ type: 'rejected', rejection: r });
    }
    for (const r of cleared) {
      this.logger.info({ route: r.id, origin: r.origin }, 'routes: a rejected route is fixed or gone');
      this.emit({ type: 'cleared', rejection: r });
    }

    const added: string[] = [];
    const changed: string[] = [];
    const removed: string[] = [];
    for (const [id, route] of next) {
      const old = this.current.get(id);
      if (!old) added.push(id);
      else if (old !== route) changed.push(id);
    }
    for (const route of this.current.routes) if (!next.has(route.id)) removed.push(route.id);
    if (this.generation > 0 && added.length + changed.length + removed.length === 0) return;

    const table = new RouteTable([...next.values()]);
    this.current = table;
    this.generation++;
    this.logger.info(
      { routes: table.size, added, changed, removed, rejected: rejections.length },
      'routes: table updated',
    );
    this.emit({ type: 'updated', table, added: added.sort(), changed: changed.sort(), removed: removed.sort() });
  }

  private emit(event: RouteStoreEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err, event: event.type }, 'routes: a store listener threw; ignored');
      }
    }
  }
}

function evaluate(entry: RouteEntry): RouteCompileResult {
  if (entry.decodeError !== undefined) {
    return { ok: false, violations: [{ pointer: '', message: entry.decodeError }] };
  }
  return compileRoute(entry.value, entry.id === undefined ? {} : { expectedId: entry.id });
}

function bad(option: string, problem: string): InstanceType<typeof InvalidOptionsError> {
  return new InvalidOptionsError(`RouteStore option "${option}" ${problem}`, { details: { option } });
}
