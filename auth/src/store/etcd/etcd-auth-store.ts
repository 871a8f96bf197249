import { AlreadyExistsError, InvalidOptionsError, UnavailableError } from '@switchyard/broker';
import { createEtcdClient, type EtcdTlsOptions } from '@switchyard/sdk';
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { AccountRecord, AuthStore, KeyRecord, RefreshRecord } from '../auth-store.js';
import {
  accountKey,
  accountsPrefix,
  familyKey,
  refreshKey,
  refreshPrefix,
  signingKeyKey,
  signingKeysPrefix,
} from './etcd-keys.js';

export interface EtcdAuthStoreOptions {
  /** etcd client URLs. Required unless `client` is given. */
  endpoints?: readonly string[];
  /** Use this client (not closed by the store). */
  client?: Etcd3;
  /** TLS of `https://` endpoints (PEM contents); ignored with `client`. */
  tls?: EtcdTlsOptions;
  /** Keys live under `/<namespace>/auth/`. Required. */
  namespace: string;
  logger?: Logger;
}

/** Time between two full re-reads of the keys when the watch has failed, ms. */
const REWATCH_DELAY_MS = 500;

/**
 * The auth state in etcd. Accounts are created with a transaction (create-only unless
 * replaced on purpose); a refresh token is marked used with a compare-and-set on its mod
 * revision, so of two concurrent exchanges exactly one wins; key changes are watched, so
 * a rotation by the CLI or another replica reaches every auth service.
 */
export class EtcdAuthStore implements AuthStore {
  readonly #client: Etcd3;
  readonly #owns: boolean;
  readonly #ns: string;
  readonly #logger: Logger | undefined;
  readonly #listeners = new Set<() => void>();
  #watcher: Watcher | undefined;
  #closed = false;

  constructor(options: EtcdAuthStoreOptions) {
    if (typeof options?.namespace !== 'string' || options.namespace === '') {
      throw new InvalidOptionsError('EtcdAuthStore option "namespace" is required', {
        details: { option: 'namespace' },
      });
    }
    if (!options.client && (!options.endpoints || options.endpoints.length === 0)) {
      throw new InvalidOptionsError('EtcdAuthStore needs "endpoints" or "client"', {
        details: { option: 'endpoints' },
      });
    }
    this.#client = options.client ?? createEtcdClient(options.endpoints!, options.tls ? { tls: options.tls } : {});
    this.#owns = options.client === undefined;
    this.#ns = options.namespace;
    this.#logger = options.logger;
  }

  async start(): Promise<void> {
    await this.#guard(() => this.#client.get(signingKeysPrefix(this.#ns)).string());
    await this.#watch();
  }

  async #watch(): Promise<void> {
    const watcher = await this.#client.watch().prefix(signingKeysPrefix(this.#ns)).create();
    if (this.#closed) {
      await watcher.cancel().catch(() => undefined);
      return;
    }
    this.#watcher = watcher;
    watcher.on('data', () => {
      // etcd3 rethrows a listener's exception on setImmediate (the process would die).
      try {
        for (const l of this.#listeners) l();
      } catch (err) {
        this.#logger?.warn({ err }, 'auth key listener failed');
      }
    });
    watcher.on('error', (err) => {
      if (this.#closed || watcher !== this.#watcher) return;
      this.#logger?.warn({ err }, 'auth key watch failed; watching again');
      setTimeout(() => {
        if (this.#closed) return;
        this.#watch().then(
          () => {
            for (const l of this.#listeners) l();
            return watcher.cancel().catch(() => undefined);
          },
          (e) => this.#logger?.warn({ err: e }, 'auth key re-watch failed'),
        );
      }, REWATCH_DELAY_MS).unref();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await Promise.race([this.#watcher?.cancel(), new Promise((r) => setTimeout(r, 1000).unref())]).catch(
      () => undefined,
    );
    if (this.#owns) this.#client.close();
  }

  async putAccount(record: AccountRecord, options: { replace?: boolean } = {}): Promise<void> {
    const key = accountKey(this.#ns, record.id);
    const value = JSON.stringify(record);
    if (options.replace) {
      await this.#guard(() => this.#client.put(key).value(value).exec());
      return;
    }
    const res = await this.#guard(() =>
      this.#client.if(key, 'Version', '==', 0).then(this.#client.put(key).value(value)).commit(),
    );
    if (!res.succeeded) throw new AlreadyExistsError(`account "${record.id}" exists`, { details: { id: record.id } });
  }

  async getAccount(id: string): Promise<AccountRecord | undefined> {
    return this.#json<AccountRecord>(await this.#guard(() => this.#client.get(accountKey(this.#ns, id)).string()));
  }

  async listAccounts(): Promise<AccountRecord[]> {
    const all = await this.#guard(() => this.#client.getAll().prefix(accountsPrefix(this.#ns)).strings());
    return Object.values(all)
      .map((v) => this.#json<AccountRecord>(v))
      .filter((a): a is AccountRecord => a !== undefined)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  async putRefresh(tokenHash: string, record: RefreshRecord): Promise<void> {
    await this.#guard(() => this.#client.put(refreshKey(this.#ns, tokenHash)).value(JSON.stringify(record)).exec());
  }

  async getRefresh(tokenHash: string): Promise<RefreshRecord | undefined> {
    return this.#json<RefreshRecord>(
      await this.#guard(() => this.#client.get(refreshKey(this.#ns, tokenHash)).string()),
    );
  }

  async useRefresh(tokenHash: string, at: number): Promise<boolean> {
    const key = refreshKey(this.#ns, tokenHash);
    const res = await this.#guard(() => this.#client.get(key).exec());
    const kv = res.kvs[0];
    if (!kv) return false;
    const record = this.#json<RefreshRecord>(kv.value.toString());
    if (!record || record.usedAt !== undefined) return false;
    const used = JSON.stringify({ ...record, usedAt: at });
    const txn = await this.#guard(() =>
      this.#client.if(key, 'Mod', '==', kv.mod_revision).then(this.#client.put(key).value(used)).commit(),
    );
    return txn.succeeded;
  }

  async revokeFamily(family: string): Promise<void> {
    await this.#guard(() => this.#client.put(familyKey(this.#ns, family)).value(String(Date.now())).exec());
  }

  async isFamilyRevoked(family: string): Promise<boolean> {
    return (await this.#guard(() => this.#client.get(familyKey(this.#ns, family)).string())) !== null;
  }

  async deleteRefresh(tokenHash: string): Promise<void> {
    await this.#guard(() => this.#client.delete().key(refreshKey(this.#ns, tokenHash)).exec());
  }

  async sweepRefresh(now: number): Promise<number> {
    const prefix = refreshPrefix(this.#ns);
    const all = await this.#guard(() => this.#client.getAll().prefix(prefix).strings());
    let n = 0;
    for (const [key, v] of Object.entries(all)) {
      const r = this.#json<RefreshRecord>(v);
      if (r && r.expiresAt < now) {
        await this.#guard(() => this.#client.delete().key(key).exec());
        n++;
      }
    }
    return n;
  }

  async putKey(record: KeyRecord): Promise<void> {
    await this.#guard(() => this.#client.put(signingKeyKey(this.#ns, record.kid)).value(JSON.stringify(record)).exec());
  }

  async listKeys(): Promise<KeyRecord[]> {
    const all = await this.#guard(() => this.#client.getAll().prefix(signingKeysPrefix(this.#ns)).strings());
    return Object.values(all)
      .map((v) => this.#json<KeyRecord>(v))
      .filter((k): k is KeyRecord => k !== undefined);
  }

  async deleteKey(kid: string): Promise<void> {
    await this.#guard(() => this.#client.delete().key(signingKeyKey(this.#ns, kid)).exec());
  }

  onKeysChanged(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #json<T>(text: string | null): T | undefined {
    if (text === null) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      this.#logger?.warn('auth store: a record is not JSON; ignored');
      return undefined;
    }
  }

  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof AlreadyExistsError) throw err;
      throw new UnavailableError(`etcd (auth store) is unavailable: ${(err as Error).message}`, { cause: err });
    }
  }
}
