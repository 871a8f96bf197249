import type { Etcd3 } from 'etcd3';
import { type ConfigDocument, configJson, isObject, leaves, parsePath } from './config-paths.js';
import { configKey, configPrefix } from './etcd-config-source.js';

export interface ConfigEdit {
  /** Dotted paths and their new values; an object value replaces everything under its path. */
  set?: Readonly<Record<string, unknown>>;
  /** Dotted paths to remove, with everything under them. */
  unset?: readonly string[];
}

export interface ConfigWriteResult {
  /** The etcd revision of the write: every watcher sees the whole edit at this revision. */
  revision: string;
  put: string[];
  deleted: string[];
}

/**
 * Write an edit to a scope's config in one etcd transaction, so a watching service sees
 * it as one change (and validates it as one: two settings that are only valid together
 * never arrive half-applied). An object is written as one key per leaf, the layout
 * `EtcdConfigSource` reads and `etcdctl` users can edit a setting at a time. Every path
 * and value is checked before anything is written. The keys to remove are found by a read
 * just before the transaction; a concurrent writer under the same path may add a key
 * between the two, which the next edit removes.
 */
export async function writeEtcdConfig(
  client: Etcd3,
  namespace: string,
  scope: string,
  edit: ConfigEdit,
): Promise<ConfigWriteResult> {
  const puts = new Map<string, string>();
  const cleared: string[][] = [];
  for (const [path, value] of Object.entries(edit.set ?? {})) {
    const segments = parsePath(path);
    const text = configJson(`config value at ${JSON.stringify(path)}`, value);
    cleared.push([...segments]);
    const parsed = JSON.parse(text) as unknown;
    if (isObject(parsed) && Object.keys(parsed).length > 0) {
      for (const [sub, leaf] of leaves(parsed)) {
        puts.set(configKey(namespace, scope, [...segments, ...sub]), JSON.stringify(leaf));
      }
    } else {
      if (segments.length === 0) continue; // `set('', {})` empties the scope: only the clearing below
      puts.set(configKey(namespace, scope, segments), text);
    }
  }
  for (const path of edit.unset ?? []) cleared.push([...parsePath(path)]);
  return commit(client, namespace, scope, puts, cleared);
}

/**
 * Make a scope's config exactly `doc` (what `switchyard config apply --prune` does): one
 * transaction puts every leaf that differs and removes every key `doc` does not have.
 */
export async function replaceEtcdConfig(
  client: Etcd3,
  namespace: string,
  scope: string,
  doc: ConfigDocument,
): Promise<ConfigWriteResult> {
  return writeEtcdConfig(client, namespace, scope, { set: { '': doc } });
}

async function commit(
  client: Etcd3,
  namespace: string,
  scope: string,
  puts: Map<string, string>,
  cleared: readonly string[][],
): Promise<ConfigWriteResult> {
  const prefix = configPrefix(namespace, scope);
  const existing = await client.getAll().prefix(prefix).strings();
  const deletes = Object.keys(existing).filter((key) => {
    if (puts.has(key)) return false;
    const path = key.slice(prefix.length);
    return cleared.some((c) => {
      const p = c.join('/');
      return p === '' || path === p || path.startsWith(`${p}/`);
    });
  });
  // etcd refuses a transaction that names one key twice; unchanged values are left alone.
  const changed = [...puts].filter(([key, text]) => existing[key] !== text);
  const ops = [
    ...deletes.map((key) => client.delete().key(key)),
    ...changed.map(([key, text]) => client.put(key).value(text)),
  ];
  if (ops.length === 0) {
    const status = await client.getAll().prefix(prefix).limit(1).exec();
    return { revision: String(status.header.revision), put: [], deleted: [] };
  }
  const res = await client
    .if(prefix, 'Version', '>', -1)
    .then(...ops)
    .commit();
  return {
    revision: String(res.header.revision),
    put: changed.map(([key]) => key.slice(prefix.length).replaceAll('/', '.')),
    deleted: deletes.map((key) => key.slice(prefix.length).replaceAll('/', '.')),
  };
}
