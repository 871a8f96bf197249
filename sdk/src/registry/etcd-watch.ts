import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { ServiceInstance } from './instance-record.js';
import { byId, decodeEntry, parseInstanceKey } from './keys.js';
import type { RegistryEvent, RegistryListener, RegistryLogger, RegistryWatch } from './registry-events.js';
import { deliver, retryDelayMs, Sleeper } from './support.js';

export interface EtcdWatchContext {
  client: Etcd3;
  prefix: string;
  listener: RegistryListener;
  logger: RegistryLogger;
  /** Bound on waiting for etcd to acknowledge a watcher's cancellation. */
  cancelTimeoutMs: number;
  onClose(): void;
}

/**
 * List the prefix, then watch it from the listed revision, so no change falls between
 * the two. When the watch fails — etcd down (`disconnected`) or the revision compacted
 * (`error`) — the listener hears `disconnected` and we start over with a fresh list,
 * which ends in a new `sync`. etcd3 rethrows exceptions from watch handlers on a
 * setImmediate (killing the process), so every handler here catches.
 */
export class EtcdWatch implements RegistryWatch {
  private closed = false;
  private isSynced = false;
  private watcher: Watcher | undefined;
  private stopWaiting: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private readonly sleeper = new Sleeper();

  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly listener: RegistryListener;
  private readonly logger: RegistryLogger;

  constructor(private readonly ctx: EtcdWatchContext) {
    this.client = ctx.client;
    this.prefix = ctx.prefix;
    this.listener = ctx.listener;
    this.logger = ctx.logger;
    void this.run();
  }

  get synced(): boolean {
    return this.isSynced;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.ctx.onClose();
    this.sleeper.wakeAll();
    this.stopWaiting?.();
    const w = this.watcher;
    this.watcher = undefined;
    if (w) await this.cancel(w);
  }

  private emit(event: RegistryEvent): void {
    if (!this.closed) deliver(this.listener, event, this.logger);
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.closed; ) {
      let reason: string;
      try {
        reason = await this.listAndWatch();
        attempt = 0;
      } catch (err) {
        reason = `list failed: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (this.closed) return;
      this.logger.debug({ prefix: this.prefix, reason }, 'registry: watch interrupted; listing again');
      if (this.isSynced) {
        this.isSynced = false;
        this.emit({ type: 'disconnected', reason });
      }
      await this.sleeper.sleep(retryDelayMs(attempt++));
    }
  }

  /** Resolves with the reason the watch stopped. */
  private async listAndWatch(): Promise<string> {
    const res = await this.client.getAll().prefix(this.prefix).exec();
    if (this.closed) return 'closed';
    const table: ServiceInstance[] = [];
    for (const kv of res.kvs) {
      const inst = decodeEntry(this.prefix, kv.key.toString(), kv.value.toString(), this.logger);
      if (inst) table.push(inst);
    }
    table.sort(byId);
    const from = (BigInt(res.header.revision) + 1n).toString();
    const watcher = this.client.watch().prefix(this.prefix).startRevision(from).watcher();
    this.watcher = watcher;
    const reason = await new Promise<string>((resolve) => {
      this.stopWaiting = () => resolve('closed');
      watcher.on('connected', () =>
        this.guard(() => {
          if (this.isSynced) return;
          this.isSynced = true;
          this.emit({ type: 'sync', instances: table });
        }),
      );
      watcher.on('put', (kv) => this.guard(() => this.onPut(kv)));
      watcher.on('delete', (kv) => this.guard(() => this.onDelete(kv)));
      watcher.on('disconnected', (err) => resolve(`watch disconnected: ${err.message}`));
      // etcd cancelled the watcher (e.g. compaction) and etcd3 already dropped it.
      watcher.on('error', (err) => {
        if (this.watcher === watcher) this.watcher = undefined;
        resolve(`watch cancelled: ${err.message}`);
      });
    });
    this.stopWaiting = undefined;
    if (this.watcher === watcher) {
      this.watcher = undefined;
      await this.cancel(watcher);
    }
    return reason;
  }

  private onPut(kv: IKeyValue): void {
    const key = kv.key.toString();
    const inst = decodeEntry(this.prefix, key, kv.value.toString(), this.logger);
    if (inst) {
      this.emit({ type: 'put', instance: inst });
      return;
    }
    // The key no longer holds a valid record: as far as readers know, that instance is gone.
    const where = parseInstanceKey(this.prefix, key);
    if (where) this.emit({ type: 'delete', ...where });
  }

  private onDelete(kv: IKeyValue): void {
    const where = parseInstanceKey(this.prefix, kv.key.toString());
    if (where) this.emit({ type: 'delete', ...where });
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err }, 'registry: unexpected error in a watch handler');
    }
  }

  /** Detach from etcd3's shared stream; bounded because a cancel waits for etcd's reply. */
  private async cancel(w: Watcher): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        w.cancel(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.ctx.cancelTimeoutMs);
        }),
      ]);
    } catch (err) {
      this.logger.debug({ err }, 'registry: watcher cancel failed');
    } finally {
      clearTimeout(timer);
      // Late `error` emissions must not become unhandled 'error' events.
      w.removeAllListeners();
      w.on('error', () => undefined);
    }
  }
}
