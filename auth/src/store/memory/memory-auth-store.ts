import { AlreadyExistsError } from '@switchyard/broker';
import type { AccountRecord, AuthStore, KeyRecord, RefreshRecord } from '../auth-store.js';

/** The auth state in process memory: the embedded default. Lost when the process ends. */
export class MemoryAuthStore implements AuthStore {
  readonly #accounts = new Map<string, AccountRecord>();
  readonly #refresh = new Map<string, RefreshRecord>();
  readonly #revokedFamilies = new Set<string>();
  readonly #keys = new Map<string, KeyRecord>();
  readonly #listeners = new Set<() => void>();

  async start(): Promise<void> {}
  async close(): Promise<void> {
    this.#listeners.clear();
  }

  async putAccount(record: AccountRecord, options: { replace?: boolean } = {}): Promise<void> {
    if (!options.replace && this.#accounts.has(record.id)) {
      throw new AlreadyExistsError(`account "${record.id}" exists`, { details: { id: record.id } });
    }
    this.#accounts.set(record.id, record);
  }

  async getAccount(id: string): Promise<AccountRecord | undefined> {
    return this.#accounts.get(id);
  }

  async listAccounts(): Promise<AccountRecord[]> {
    return [...this.#accounts.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  async putRefresh(tokenHash: string, record: RefreshRecord): Promise<void> {
    this.#refresh.set(tokenHash, record);
  }

  async getRefresh(tokenHash: string): Promise<RefreshRecord | undefined> {
    return this.#refresh.get(tokenHash);
  }

  async useRefresh(tokenHash: string, at: number): Promise<boolean> {
    const r = this.#refresh.get(tokenHash);
    if (!r || r.usedAt !== undefined) return false;
    this.#refresh.set(tokenHash, { ...r, usedAt: at });
    return true;
  }

  async revokeFamily(family: string): Promise<void> {
    this.#revokedFamilies.add(family);
  }

  async isFamilyRevoked(family: string): Promise<boolean> {
    return this.#revokedFamilies.has(family);
  }

  async deleteRefresh(tokenHash: string): Promise<void> {
    this.#refresh.delete(tokenHash);
  }

  async sweepRefresh(now: number): Promise<number> {
    let n = 0;
    for (const [k, r] of this.#refresh) {
      if (r.expiresAt < now) {
        this.#refresh.delete(k);
        n++;
      }
    }
    return n;
  }

  async putKey(record: KeyRecord): Promise<void> {
    this.#keys.set(record.kid, record);
    this.#changed();
  }

  async listKeys(): Promise<KeyRecord[]> {
    return [...this.#keys.values()];
  }

  async deleteKey(kid: string): Promise<void> {
    if (this.#keys.delete(kid)) this.#changed();
  }

  onKeysChanged(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    // Asynchronously, as a watch would: the writer never runs listeners inside its own call.
    queueMicrotask(() => {
      for (const l of this.#listeners) l();
    });
  }
}
