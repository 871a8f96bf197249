import type { Etcd3 } from 'etcd3';
import {
  type ConfigDocument,
  configJson,
  decodeConfigValue,
  isObject,
  leaves,
  parsePath,
  setAt,
} from './config-paths.js';
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
  return commitConfigPlan(client, await planEtcdConfig(client, namespace, scope, edit));
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

/** What an edit would do, worked out against etcd now; `commitConfigPlan` writes it. */
export interface ConfigPlan {
  readonly prefix: string;
  /** The scope's keys and raw values before the edit. */
  readonly before: Readonly<Record<string, string>>;
  /** Keys to write (new or changed) with their JSON text. */
  readonly puts: ReadonlyArray<readonly [string, string]>;
  readonly deletes: readonly string[];
}

/** Check every path and value of `edit` (INVALID_ARGUMENT before anything is written) and work out the keys it touches. */
export async function planEtcdConfig(
  client: Etcd3,
  namespace: string,
  scope: string,
  edit: ConfigEdit,
): Promise<ConfigPlan> {
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
    } else if (segments.length > 0) {
      puts.set(configKey(namespace, scope, segments), text);
    } // `set('', {})` empties the scope: only the clearing below
  }
  for (const path of edit.unset ?? []) cleared.push([...parsePath(path)]);
  const prefix = configPrefix(namespace, scope);
  const before = await client.getAll().prefix(prefix).strings();
  const deletes = Object.keys(before).filter((key) => {
    if (puts.has(key)) return false;
    const path = key.slice(prefix.length);
    return cleared.some((c) => {
      const p = c.join('/');
      return p === '' || path === p || path.startsWith(`${p}/`);
    });
  });
  // etcd refuses a transaction that names one key twice; unchanged values are left alone.
  return { prefix, before, puts: [...puts].filter(([key, text]) => before[key] !== text), deletes };
}

/** The dotted path of one of a plan's keys. */
export function configPathOf(plan: ConfigPlan, key: string): string {
  return key.slice(plan.prefix.length).replaceAll('/', '.');
}

export async function commitConfigPlan(client: Etcd3, plan: ConfigPlan): Promise<ConfigWriteResult> {
  const ops = [
    ...plan.deletes.map((key) => client.delete().key(key)),
    ...plan.puts.map(([key, text]) => client.put(key).value(text)),
  ];
  const result = (revision: unknown) => ({
    revision: String(revision),
    put: plan.puts.map(([key]) => configPathOf(plan, key)),
    deleted: plan.deletes.map((key) => configPathOf(plan, key)),
  });
  if (ops.length === 0) return result((await client.getAll().prefix(plan.prefix).limit(1).exec()).header.revision);
  const res = await client
    .if(plan.prefix, 'Version', '>', -1)
    .then(...ops)
    .commit();
  return result(res.header.revision);
}

/** A scope's config as one document, read the way `EtcdConfigSource` reads it. */
export async function readEtcdConfig(
  client: Etcd3,
  namespace: string,
  scope: string,
): Promise<{ doc: ConfigDocument; revision: string }> {
  const prefix = configPrefix(namespace, scope);
  const res = await client.getAll().prefix(prefix).exec();
  const doc: ConfigDocument = {};
  for (const kv of res.kvs) {
    const segments = kv.key.toString().slice(prefix.length).split('/');
    if (segments.some((s) => !/^[A-Za-z0-9_-]+$/.test(s))) continue;
    setAt(doc, segments, decodeConfigValue(kv.value.toString()));
  }
  return { doc, revision: String(res.header.revision) };
}
