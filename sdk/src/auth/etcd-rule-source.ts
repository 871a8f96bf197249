import { InvalidOptionsError } from '@switchyard/broker';
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { Logger } from '../config/logger.js';
import { checkRule } from './rule-schema.js';
import { type AuthRule, RuleSet } from './rule-set.js';
import { type RuleSource, rulesPrefix } from './rule-source.js';

export interface EtcdRuleSourceOptions {
  /** A connected etcd3 client; the caller owns it (close it after the source). Required. */
  client: Etcd3;
  /** Rules live under `/<namespace>/auth/rules/`. Required. */
  namespace: string;
  logger?: Logger;
}

/** How long close() waits for etcd to confirm the watch is cancelled. */
const CLOSE_WAIT_MS = 1_000;

/**
 * The rules in etcd: one range read, then a watch from the next revision, so no change
 * is missed between the two; every watch response is one new rule set. A rule that
 * fails auth-rule.json is refused and logged, and its last good version stays. When the
 * watch fails (compaction, etcd gone) the source keeps its set and reads everything again.
 */
export class EtcdRuleSource implements RuleSource {
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #logger: Logger | undefined;
  readonly #good = new Map<string, AuthRule>();
  readonly #listeners = new Set<(rules: RuleSet) => void>();
  #rules = RuleSet.defaults();
  #watcher: Watcher | undefined;
  #starting: Promise<void> | undefined;
  #resyncing: Promise<void> | undefined;
  #closed = false;

  constructor(options: EtcdRuleSourceOptions) {
    if (!options?.client || typeof options.client.watch !== 'function') {
      throw new InvalidOptionsError('EtcdRuleSource option "client" must be an etcd3 client', {
        details: { option: 'client' },
      });
    }
    this.#client = options.client;
    this.#prefix = rulesPrefix(options.namespace);
    this.#logger = options.logger;
  }

  start(): Promise<void> {
    this.#starting ??= this.#sync();
    return this.#starting;
  }

  current(): RuleSet {
    return this.#rules;
  }

  subscribe(listener: (rules: RuleSet) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
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
    const seen = new Set<string>();
    for (const kv of res.kvs) seen.add(this.#apply(kv));
    for (const id of [...this.#good.keys()]) if (!seen.has(id)) this.#good.delete(id);
    if (this.#closed) return;
    this.#publish();
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
      if (watcher === this.#watcher) this.#onData(r);
    });
    watcher.on('error', (err) => {
      if (watcher === this.#watcher) this.#onWatchError(err);
    });
    // Cancelled only now that the new watcher exists (etcd3 tears its shared stream down with the last watcher).
    await old?.cancel().catch(() => undefined);
  }

  /** Decode one key into the good set; returns the id it names. */
  #apply(kv: IKeyValue): string {
    const key = kv.key.toString();
    const id = key.slice(this.#prefix.length);
    let value: unknown;
    try {
      value = JSON.parse(kv.value.toString());
    } catch {
      this.#logger?.warn({ key }, 'auth rule is not JSON: refused (its last good version stays)');
      return id;
    }
    const checked = checkRule(value, id);
    if (checked.ok) this.#good.set(id, checked.rule);
    else this.#logger?.warn({ key, violations: checked.violations }, 'auth rule refused (its last good version stays)');
    return id;
  }

  #onData(res: IWatchResponse): void {
    // A throw here is rethrown by etcd3 on setImmediate and kills the process.
    try {
      if (this.#closed || res.events.length === 0) return;
      for (const ev of res.events) {
        if (ev.type === 'Put') this.#apply(ev.kv);
        else if (ev.type === 'Delete') this.#good.delete(ev.kv.key.toString().slice(this.#prefix.length));
      }
      this.#publish();
    } catch (err) {
      this.#logger?.warn({ err }, 'auth rule update failed');
    }
  }

  #onWatchError(err: unknown): void {
    if (this.#closed || this.#resyncing) return;
    this.#logger?.warn(
      { err, prefix: this.#prefix },
      'auth rule watch failed; keeping the rules and reading them again',
    );
    this.#resyncing = (async () => {
      for (let attempt = 0; !this.#closed; attempt++) {
        try {
          await this.#sync();
          return;
        } catch (e) {
          this.#logger?.warn({ err: e, attempt }, 'auth rule resync failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
        }
      }
    })().finally(() => {
      this.#resyncing = undefined;
    });
  }

  #publish(): void {
    this.#rules = this.#good.size === 0 ? RuleSet.defaults() : new RuleSet([...this.#good.values()]);
    for (const l of this.#listeners) {
      try {
        l(this.#rules);
      } catch (err) {
        this.#logger?.warn({ err }, 'auth rule listener failed');
      }
    }
  }
}
