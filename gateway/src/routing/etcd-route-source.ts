import { InvalidOptionsError } from '@switchyard/broker';
import { createEtcdClient, type EtcdTlsOptions } from '@switchyard/sdk';
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import { isRoutingLogger, type RoutingLogger, silentRoutingLogger } from './logger.js';
import { DEFAULT_ROUTES_NAMESPACE, ROUTES_NAMESPACE_PATTERN, routeIdOfKey, routesPrefix } from './route-keys.js';
import type { RouteEntry, RouteSnapshot, RouteSource } from './route-source.js';

/**
 * Routes from etcd: list `/<namespace>/routes/`, deliver the snapshot, then watch the
 * prefix from the listed revision + 1, so no change between list and watch is missed.
 * Every change delivers a new snapshot at once (one per watch response).
 *
 * When the watch breaks (etcd down, stream error, compaction) the source marks itself
 * disconnected and not synced, keeps the last snapshot (the store keeps serving the last
 * table) and retries list + watch with a capped backoff; a fresh list replaces whatever
 * was missed. Every handler runs inside try/catch: an exception in an etcd3 watch
 * handler would otherwise be rethrown by etcd3 and crash the process.
 */

export interface EtcdRouteSourceOptions {
  /** A shared etcd3 client. The source does not close it. Either this or `endpoints`. */
  client?: Etcd3;
  /** etcd client URLs (`http://host:port`) for a client of the source's own. */
  endpoints?: string[] | string;
  /** Keys live under `/<namespace>/routes/`. Default `switchyard`. */
  namespace?: string;
  /** TLS of an own client's `https://` endpoints (PEM contents). */
  tls?: EtcdTlsOptions;
  /** Deadline of the list call (and every unary call of an own client). Default 5000 ms. */
  dialTimeoutMs?: number;
  /** Longest wait between retries after a failure. Default 1000 ms. */
  maxRetryDelayMs?: number;
  /** pino-compatible logger. Default: silent. */
  logger?: RoutingLogger;
}

export const ETCD_ROUTE_SOURCE_DEFAULTS = Object.freeze({
  namespace: DEFAULT_ROUTES_NAMESPACE,
  dialTimeoutMs: 5_000,
  maxRetryDelayMs: 1_000,
});

export class EtcdRouteSource implements RouteSource {
  readonly kind = 'etcd';
  readonly namespace: string;
  readonly prefix: string;
  private readonly client: Etcd3;
  private readonly ownsClient: boolean;
  private readonly dialTimeoutMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly logger: RoutingLogger;
  private listener: ((snapshot: RouteSnapshot) => void) | undefined;
  private entries = new Map<string, RouteEntry>();
  private state: 'new' | 'started' | 'closed' = 'new';
  private isSynced = false;
  private isConnected = false;
  private loop: Promise<void> | undefined;
  /** Ends the current watch session (watch broke, or closing). */
  private endSession: (() => void) | undefined;
  private wake: (() => void) | undefined;
  private readonly closing = new AbortController();

  constructor(options: EtcdRouteSourceOptions) {
    if (typeof options !== 'object' || options === null) throw bad('options', 'must be an object');
    const namespace = options.namespace ?? ETCD_ROUTE_SOURCE_DEFAULTS.namespace;
    if (typeof namespace !== 'string' || !ROUTES_NAMESPACE_PATTERN.test(namespace)) {
      throw bad('namespace', `must match ${ROUTES_NAMESPACE_PATTERN.source}`);
    }
    const dialTimeoutMs = options.dialTimeoutMs ?? ETCD_ROUTE_SOURCE_DEFAULTS.dialTimeoutMs;
    if (!Number.isFinite(dialTimeoutMs) || dialTimeoutMs <= 0) throw bad('dialTimeoutMs', 'must be a positive number');
    const maxRetryDelayMs = options.maxRetryDelayMs ?? ETCD_ROUTE_SOURCE_DEFAULTS.maxRetryDelayMs;
    if (!Number.isFinite(maxRetryDelayMs) || maxRetryDelayMs < 10) {
      throw bad('maxRetryDelayMs', 'must be a number >= 10');
    }
    const logger = options.logger ?? silentRoutingLogger;
    if (!isRoutingLogger(logger)) throw bad('logger', 'must be a pino-compatible logger');
    if (options.client !== undefined) {
      if (options.endpoints !== undefined) throw bad('endpoints', 'must not be given together with "client"');
      // Duck-typed: an application may hold a client from another copy of the etcd3 package.
      const c = options.client as Partial<Etcd3> | null;
      if (typeof c !== 'object' || c === null || typeof c.getAll !== 'function' || typeof c.watch !== 'function') {
        throw bad('client', 'must be an etcd3 Etcd3 client');
      }
      this.client = options.client;
      this.ownsClient = false;
    } else {
      const endpoints = typeof options.endpoints === 'string' ? [options.endpoints] : options.endpoints;
      if (!Array.isArray(endpoints) || endpoints.length === 0) {
        throw bad('endpoints', 'must be a non-empty string or array of "http://host:port" (or give "client")');
      }
      for (const e of endpoints) {
        if (typeof e !== 'string' || !/^(https?:\/\/)?[^\s/]+:\d+\/?$/.test(e)) {
          throw bad('endpoints', `has ${JSON.stringify(e)}; expected "http://host:port"`);
        }
      }
      this.client = createEtcdClient(endpoints, { dialTimeoutMs, tls: options.tls });
      this.ownsClient = true;
    }
    this.namespace = namespace;
    this.prefix = routesPrefix(namespace);
    this.dialTimeoutMs = dialTimeoutMs;
    this.maxRetryDelayMs = maxRetryDelayMs;
    this.logger = logger;
  }

  get synced(): boolean {
    return this.state === 'started' && this.isSynced;
  }

  get connected(): boolean {
    return this.state === 'started' && this.isConnected;
  }

  /**
   * Resolves once the routes are listed and the watch is live, or after the first attempt
   * failed (etcd down): the source then keeps retrying in the background.
   */
  async start(onSnapshot: (snapshot: RouteSnapshot) => void): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'started';
    this.listener = onSnapshot;
    let firstAttempt!: () => void;
    const attempted = new Promise<void>((resolve) => {
      firstAttempt = resolve;
    });
    this.loop = this.run(firstAttempt);
    // Never hold a caller's startup longer than one dial timeout, whatever etcd does.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([attempted, new Promise<void>((r) => (timer = setTimeout(r, this.dialTimeoutMs)))]);
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasStarted = this.state === 'started';
    this.state = 'closed';
    this.listener = undefined;
    this.isSynced = false;
    this.isConnected = false;
    this.closing.abort();
    this.endSession?.();
    this.wake?.();
    if (wasStarted) await this.loop;
    if (this.ownsClient) this.client.close();
  }

  private async run(firstAttempt: () => void): Promise<void> {
    let failures = 0;
    while (this.state === 'started') {
      try {
        await this.session(firstAttempt);
        failures = 0;
      } catch (err) {
        if (this.state !== 'started') break;
        if (this.isConnected || failures === 0) {
          this.logger.warn({ err, prefix: this.prefix }, 'routes: cannot list routes in etcd; retrying');
        }
        this.markDown();
        failures++;
      }
      firstAttempt();
      if (this.state !== 'started') break;
      await this.sleep(retryDelayMs(failures, this.maxRetryDelayMs));
    }
    firstAttempt();
  }

  /** One list + watch; resolves when the watch breaks or the source closes. */
  private async session(firstAttempt: () => void): Promise<void> {
    const res = await withDeadline(
      this.client.getAll().prefix(this.prefix).exec(),
      this.dialTimeoutMs,
      this.closing.signal,
    );
    if (this.state !== 'started') return;
    const entries = new Map<string, RouteEntry>();
    for (const kv of res.kvs) {
      const e = this.decode(kv);
      entries.set(e.origin, e);
    }
    this.entries = entries;
    const recovering = !this.isConnected && this.listener !== undefined;
    this.isConnected = true;
    this.isSynced = true;
    if (recovering) this.logger.info({ prefix: this.prefix, routes: entries.size }, 'routes: listed routes in etcd');
    this.deliver();

    const watcher: Watcher = this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(Number(res.header.revision) + 1))
      .watcher();
    await new Promise<void>((resolve) => {
      this.endSession = resolve;
      if (this.state !== 'started') resolve();
      // start() resolves once the watch is live, so a write right after it is never late.
      watcher.once('connected', () => firstAttempt());
      watcher.on('data', (r: IWatchResponse) => {
        try {
          this.onWatchData(r);
        } catch (err) {
          this.logger.error({ err }, 'routes: failed to apply an etcd watch event; re-listing');
          resolve();
        }
      });
      watcher.on('disconnected', (err: Error) => {
        try {
          if (this.state === 'started') {
            this.logger.warn({ err: err?.message }, 'routes: lost the etcd watch; serving the last routes');
          }
          this.markDown();
        } catch {
          // logging must never break the watch machinery
        }
        resolve();
      });
      watcher.on('error', (err: Error) => {
        try {
          if (this.state === 'started') {
            this.logger.warn({ err: err?.message }, 'routes: the etcd watch failed; re-listing');
          }
          this.markDown();
        } catch {
          // as above
        }
        resolve();
      });
    });
    this.endSession = undefined;
    // A cancel needs etcd's answer; never let a dead connection hold us here.
    await withDeadline(watcher.cancel(), 1_000).catch(() => {});
  }

  private onWatchData(res: IWatchResponse): void {
    if (this.state !== 'started' || res.events.length === 0) return;
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      if (ev.type === 'Delete') this.entries.delete(key);
      else this.entries.set(key, this.decode(ev.kv));
    }
    this.deliver();
  }

  private decode(kv: IKeyValue): RouteEntry {
    const key = kv.key.toString();
    const text = kv.value.toString('utf8');
    const id = routeIdOfKey(this.prefix, key);
    if (id === undefined) {
      return {
        id: undefined,
        origin: key,
        value: undefined,
        fingerprint: text,
        decodeError: `key is outside the layout ${this.prefix}<id>`,
      };
    }
    try {
      return { id, origin: key, value: JSON.parse(text), fingerprint: text };
    } catch {
      return { id, origin: key, value: undefined, fingerprint: text, decodeError: 'value is not valid JSON' };
    }
  }

  private deliver(): void {
    const listener = this.listener;
    if (!listener) return;
    try {
      listener({ entries: [...this.entries.values()] });
    } catch (err) {
      this.logger.error({ err }, 'routes: a route snapshot listener threw; ignored');
    }
  }

  private markDown(): void {
    this.isConnected = false;
    this.isSynced = false;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** `p`, or a rejection after `ms` or as soon as `signal` aborts (closing), whichever comes first. */
function withDeadline<T>(p: Promise<T>, ms: number, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (reject: (e: Error) => void) => () => reject(new Error('closed'));
  let abortHandler: (() => void) | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from etcd within ${ms} ms`)), ms);
    if (!signal) return;
    abortHandler = onAbort(reject);
    if (signal.aborted) abortHandler();
    else signal.addEventListener('abort', abortHandler, { once: true });
  });
  p.catch(() => {}); // a late rejection of the abandoned call is not unhandled
  return Promise.race([p, deadline]).finally(() => {
    clearTimeout(timer);
    if (abortHandler) signal?.removeEventListener('abort', abortHandler);
  });
}

function retryDelayMs(attempt: number, capMs: number): number {
  const base = Math.min(capMs, 100 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

function bad(option: string, problem: string): InstanceType<typeof InvalidOptionsError> {
  return new InvalidOptionsError(`EtcdRouteSource option "${option}" ${problem}`, { details: { option } });
}
