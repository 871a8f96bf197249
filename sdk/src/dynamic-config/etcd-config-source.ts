import { InvalidOptionsError } from '@switchyard/broker';
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { Logger } from '../config/logger.js';
import { type ConfigDocument, decodeConfigValue, deepFreeze, deleteAt, setAt } from './config-paths.js';
import { type ConfigSource, SourceListeners } from './config-source.js';

export interface EtcdConfigSourceOptions {
  /** A connected etcd3 client; the caller owns it (close it after the source). Required. */
  client: Etcd3;
  /** Keys live under `/<namespace>/config/<scope>/`. Required. */
  namespace: string;
  /** Whose config: a service name, or a name several services share. Required. */
  scope: string;
  logger?: Logger;
}

/** How long close() waits for etcd to confirm the watch is cancelled. */
const CLOSE_WAIT_MS = 1_000;
const SCOPE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function configPrefix(namespace: string, scope: string): string {
  return `/${namespace}/config/${scope}/`;
}

/** The etcd key of one setting: its dotted path with `/` between the parts. */
export function configKey(namespace: string, scope: string, segments: readonly string[]): string {
  return `${configPrefix(namespace, scope)}${segments.join('/')}`;
}

/**
 * A scope's settings in etcd, one key a setting (`/<ns>/config/orders/features/checkout`
 * holds `true`): read in one range, then watched from the next revision so nothing falls
 * between. One watch response (one etcd transaction, as `config apply` writes) is one
 * change. A value that is not JSON is taken as a string, as `etcdctl put` users expect.
 * While the watch stream is down (etcd stopped) `synced` is false and the last values
 * stay; etcd3 reconnects and resumes from the last revision, and when the revision was
 * compacted meanwhile the prefix is read again.
 */
export class EtcdConfigSource implements ConfigSource {
  readonly name: string;
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #logger: Logger | undefined;
  readonly #listeners = new SourceListeners();
  #doc: ConfigDocument = deepFreeze({});
  #synced = false;
  #watcher: Watcher | undefined;
  #starting: Promise<void> | undefined;
  #resyncing: Promise<void> | undefined;
  #closed = false;

  constructor(options: EtcdConfigSourceOptions) {
    if (!options?.client || typeof options.client.watch !== 'function') {
      throw new InvalidOptionsError('EtcdConfigSource option "client" must be an etcd3 client', {
        details: { option: 'client' },
      });
    }
    if (typeof options.scope !== 'string' || !SCOPE.test(options.scope)) {
      throw new InvalidOptionsError(
        `EtcdConfigSource option "scope" must be a name of letters, digits, ".", "_" or "-" (got ${JSON.stringify(options.scope)})`,
        { details: { option: 'scope' } },
      );
    }
    this.#client = options.client;
    this.#prefix = configPrefix(options.namespace, options.scope);
    this.#logger = options.logger;
    this.name = `etcd ${this.#prefix}`;
  }

  get synced(): boolean {
    return this.#synced;
  }

  start(): Promise<void> {
    this.#starting ??= this.#sync();
    return this.#starting;
  }

  current(): ConfigDocument {
    return this.#doc;
  }

  subscribe(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    const w = this.#watcher;
    this.#watcher = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([this.#resyncing, w?.cancel()]).catch(() => undefined),
      new Promise((r) => {
        timer = setTimeout(r, CLOSE_WAIT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  async #sync(): Promise<void> {
    const res = await this.#client.getAll().prefix(this.#prefix).exec();
    const doc: ConfigDocument = {};
    for (const kv of res.kvs) this.#put(doc, kv);
    if (this.#closed) return;
    const watcher = await this.#client
      .watch()
      .prefix(this.#prefix)
      .startRevision(String(Number(res.header.revision) + 1))
      .create();
    if (this.#closed) {
      await watcher.cancel().catch(() => undefined);
      return;
    }
    const old = this.#watcher;
    this.#watcher = watcher;
    watcher.on('data', (r: IWatchResponse) => {
      if (watcher === this.#watcher) this.#guard(() => this.#onData(r));
    });
    watcher.on('disconnected', () => {
      if (watcher === this.#watcher) this.#guard(() => this.#setSynced(false, 'etcd watch disconnected'));
    });
    watcher.on('connected', () => {
      if (watcher === this.#watcher) this.#guard(() => this.#setSynced(true, 'etcd watch resumed'));
    });
    watcher.on('error', (err) => {
      if (watcher === this.#watcher) this.#guard(() => this.#onWatchError(err));
    });
    await old?.cancel().catch(() => undefined);
    this.#doc = deepFreeze(doc);
    this.#synced = true;
    this.#listeners.notify();
  }

  /** Decode one key into `doc`: its path from the key, its value JSON or, failing that, the text itself. */
  #put(doc: ConfigDocument, kv: IKeyValue): void {
    const segments = this.#segments(kv.key.toString());
    if (!segments) return;
    setAt(doc, segments, decodeConfigValue(kv.value.toString()));
  }

  #segments(key: string): string[] | undefined {
    const segments = key.slice(this.#prefix.length).split('/');
    if (segments.some((s) => !/^[A-Za-z0-9_-]+$/.test(s))) {
      this.#logger?.warn({ key }, 'config key ignored: each part after the scope is letters, digits, "_" or "-"');
      return undefined;
    }
    return segments;
  }

  #onData(res: IWatchResponse): void {
    if (this.#closed || res.events.length === 0) return;
    const doc = structuredClone(this.#doc) as ConfigDocument;
    for (const ev of res.events) {
      if (ev.type === 'Put') this.#put(doc, ev.kv);
      else if (ev.type === 'Delete') {
        const segments = this.#segments(ev.kv.key.toString());
        if (segments) deleteAt(doc, segments);
      }
    }
    this.#doc = deepFreeze(doc);
    this.#synced = true;
    this.#listeners.notify();
  }

  #setSynced(synced: boolean, why: string): void {
    if (this.#closed || this.#synced === synced) return;
    this.#synced = synced;
    this.#logger?.[synced ? 'info' : 'warn'](
      { source: this.name },
      synced ? `config ${why}: synced again` : `config ${why}: keeping the last values until it is back`,
    );
    this.#listeners.notify();
  }

  #onWatchError(err: unknown): void {
    if (this.#closed || this.#resyncing) return;
    this.#setSynced(false, 'etcd watch cancelled');
    this.#logger?.warn({ err, prefix: this.#prefix }, 'config watch failed; keeping the values and reading them again');
    this.#resyncing = (async () => {
      for (let attempt = 0; !this.#closed; attempt++) {
        try {
          await this.#sync();
          return;
        } catch (e) {
          this.#logger?.warn({ err: e, attempt }, 'config resync failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
        }
      }
    })().finally(() => {
      this.#resyncing = undefined;
    });
  }

  /** etcd3 rethrows a watch handler's exception on setImmediate, which kills the process. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#logger?.warn({ err }, 'config watch update failed');
    }
  }
}
