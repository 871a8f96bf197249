import {
  type ConfigDocument,
  configJson,
  deepFreeze,
  deleteAt,
  isObject,
  jsonCopy,
  parsePath,
  setAt,
} from './config-paths.js';
import { type ConfigSource, SourceListeners } from './config-source.js';

/**
 * The embedded twin of `EtcdConfigSource`: the shared, changeable layer of a process
 * that runs without etcd (`npm start`, unit tests). `set`, `delete` and `replace` act
 * as a `switchyard config set`/`apply` would on etcd: each is one change, seen by every
 * subscriber at once.
 */
export class MemoryConfigSource implements ConfigSource {
  readonly synced = true;
  #doc: ConfigDocument = deepFreeze({});
  readonly #listeners = new SourceListeners();
  #closed = false;

  constructor(readonly name = 'memory') {}

  async start(): Promise<void> {}

  current(): ConfigDocument {
    return this.#doc;
  }

  subscribe(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }

  /** Set one value (JSON) at a dotted path. */
  set(path: string, value: unknown): void {
    const segments = parsePath(path);
    const text = configJson(`config value at ${JSON.stringify(path)}`, value);
    this.#change((doc) => setAt(doc, segments, JSON.parse(text)));
  }

  delete(path: string): void {
    this.#change((doc) => deleteAt(doc, parsePath(path)));
  }

  /** Make the whole layer this document, as `config apply --prune` does. */
  replace(doc: ConfigDocument): void {
    const text = configJson('config document', doc);
    this.#change((d) => setAt(d, [], JSON.parse(text)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
  }

  #change(edit: (doc: ConfigDocument) => void): void {
    const next = jsonCopy(this.#doc) as ConfigDocument;
    edit(next);
    if (!isObject(next)) return;
    this.#doc = deepFreeze(next);
    if (!this.#closed) this.#listeners.notify();
  }
}
