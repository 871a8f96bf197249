import { InvalidOptionsError } from '@switchyard/broker';
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import { checkNamespace, DEFAULT_SCHEMA_NAMESPACE, decodeRecord, idOfLatestKey, latestPrefix } from './etcd-keys.js';
import type { SchemaDocument, SchemaLogger, SchemaProblem, SchemaSnapshot, SchemaSource } from './types.js';

export interface EtcdSchemaSourceOptions {
  /** A connected etcd3 client; the caller owns it (close it after the source). Required. */
  client: Etcd3;
  /** Keys live under `/<namespace>/schemas/`. Default 'switchyard'. */
  namespace?: string;
  /** Default: none. */
  logger?: SchemaLogger;
}

type Slot = { ok: true; document: SchemaDocument } | { ok: false; problem: SchemaProblem };

/**
 * The latest published version of every schema, from etcd: one range read, then a watch
 * on `/<ns>/schemas/latest/` from the next revision, so no publish is missed between the two.
 * Every watch response (one publish transaction, however many schemas) is one snapshot.
 * If the watch fails (e.g. its revision was compacted) the source reads everything again.
 */
export class EtcdSchemaSource implements SchemaSource {
  readonly description: string;
  private readonly client: Etcd3;
  private readonly namespace: string;
  private readonly prefix: string;
  private readonly logger: SchemaLogger | undefined;
  private listener: ((snapshot: SchemaSnapshot) => void) | undefined;
  private slots = new Map<string, Slot>();
  private watcher: Watcher | undefined;
  private resyncing: Promise<void> | undefined;
  private closed = false;

  constructor(options: EtcdSchemaSourceOptions) {
    if (!options?.client || typeof options.client.watch !== 'function') {
      throw new InvalidOptionsError('client must be an etcd3 Etcd3 client');
    }
    this.client = options.client;
    this.namespace = checkNamespace(options.namespace ?? DEFAULT_SCHEMA_NAMESPACE);
    this.prefix = latestPrefix(this.namespace);
    this.logger = options.logger;
    this.description = `etcd ${this.prefix}`;
  }

  async start(onSnapshot: (snapshot: SchemaSnapshot) => void): Promise<void> {
    if (this.listener || this.closed) return;
    this.listener = onSnapshot;
    await this.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listener = undefined;
    const watcher = this.watcher;
    this.watcher = undefined;
    // etcd3's cancel() waits for etcd to confirm; on a broken stream that never comes.
    await bounded(Promise.all([this.resyncing, watcher?.cancel()]), CLOSE_WAIT_MS);
  }

  /** Read everything, deliver it, then watch from the revision after the read. */
  private async sync(): Promise<void> {
    const res = await this.client.getAll().prefix(this.prefix).exec();
    const slots = new Map<string, Slot>();
    for (const kv of res.kvs) this.decodeInto(slots, kv);
    this.slots = slots;
    if (this.closed) return;
    this.emit();
    const watcher = await this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(Number(res.header.revision) + 1))
      .create();
    if (this.closed) {
      await watcher.cancel().catch(() => undefined);
      return;
    }
    this.watcher = watcher;
    // Only the current watcher counts: a replaced one may still deliver or fail late.
    watcher.on('data', (r: IWatchResponse) => {
      if (watcher === this.watcher) this.onData(r);
    });
    watcher.on('error', (err) => {
      if (watcher === this.watcher) this.onWatchError(err);
    });
  }

  private onData(res: IWatchResponse): void {
    // Thrown here, etcd3 rethrows on setImmediate and the process dies: catch everything.
    try {
      if (this.closed || res.events.length === 0) return;
      for (const ev of res.events) {
        if (ev.type === 'Put') this.decodeInto(this.slots, ev.kv);
        else if (ev.type === 'Delete') this.slots.delete(ev.kv.key.toString());
      }
      this.emit();
    } catch (err) {
      this.logger?.warn({ err, prefix: this.prefix }, 'schema watch update failed');
    }
  }

  private onWatchError(err: unknown): void {
    if (this.closed || this.resyncing) return;
    this.logger?.warn({ err, prefix: this.prefix }, 'schema watch failed; reading all schemas again');
    const old = this.watcher;
    this.watcher = undefined;
    this.resyncing = (async () => {
      // The old watcher is cancelled only once the new one exists: etcd3 tears its shared
      // watch stream down when the last watcher goes, and a watcher created during that
      // teardown can sit on a dead stream until etcd3's reconnect backoff runs out.
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          await this.sync();
          await old?.cancel().catch(() => undefined);
          return;
        } catch (e) {
          this.logger?.warn({ err: e, prefix: this.prefix, attempt }, 'schema resync failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
        }
      }
    })().finally(() => {
      this.resyncing = undefined;
    });
  }

  private decodeInto(slots: Map<string, Slot>, kv: IKeyValue): void {
    const key = kv.key.toString();
    const id = idOfLatestKey(this.namespace, key);
    if (id === undefined) {
      slots.set(key, { ok: false, problem: { file: key, problem: 'key is not /<ns>/schemas/latest/<encoded $id>' } });
      return;
    }
    const decoded = decodeRecord(key, kv.value.toString(), id);
    slots.set(key, decoded.ok ? { ok: true, document: decoded.document } : decoded);
  }

  private emit(): void {
    const documents: SchemaDocument[] = [];
    const problems: SchemaProblem[] = [];
    for (const slot of this.slots.values()) {
      if (slot.ok) documents.push(slot.document);
      else problems.push(slot.problem);
    }
    this.listener?.({ documents, problems });
  }
}

/** How long close() waits for etcd to confirm that watches are cancelled. */
const CLOSE_WAIT_MS = 1_000;

function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
