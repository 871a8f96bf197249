import type { ConfigDocument } from './config-paths.js';

/**
 * One layer of a service's config. Two implementations of the watched, shared layer sit
 * side by side: `EtcdConfigSource` (a key prefix in etcd, watched) and
 * `MemoryConfigSource` (its embedded twin, set from code); tests/contract/config-source.contract.ts
 * runs the same suite against both. The other layers (defaults, a file, the environment,
 * secret files, overrides) implement it too, so `DynamicConfig` merges them one way.
 */
export interface ConfigSource {
  /** Names the layer in logs and `status()`, e.g. `etcd /switchyard/config/orders/` or `file ./orders.yaml`. */
  readonly name: string;
  /** Its values are secrets: logged never, shown redacted by `DynamicConfig.redacted()`. */
  readonly secret?: boolean;
  /** Read the layer the first time (and begin watching, where it watches). Rejects when the first read fails. */
  start(): Promise<void>;
  /** The layer's document now (its last good one when a later read failed). Callers do not change it. */
  current(): ConfigDocument;
  /** False while a watched layer has lost its source (etcd down) and may be stale; true otherwise. */
  readonly synced: boolean;
  /** Called after `current()` changed, or `synced` did. Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Stop watching. Idempotent. */
  close(): Promise<void>;
}

/** The listener bookkeeping every source shares: a throwing listener is logged by the caller's wrapper, never lost in a watch callback. */
export class SourceListeners {
  readonly #listeners = new Set<() => void>();

  add(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  notify(): void {
    for (const l of [...this.#listeners]) {
      try {
        l();
      } catch {
        // DynamicConfig's listener catches and logs its own failures; a stray one must not stop the others.
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
