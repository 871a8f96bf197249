import { FailedPreconditionError } from '@switchyard/broker';
import { routeKey, routesPrefix } from '@switchyard/gateway';
import type { EtcdClient } from '../connect/etcd.js';
import type { DesiredDocument, RoutePlan, StoredRoute } from './route-plan.js';

/** etcd allows 128 operations per transaction by default; stay well below. */
export const ROUTES_PER_TXN = 100;

export interface StoredRoutes {
  routes: StoredRoute[];
  /** Keys under the prefix that are not `<prefix><id>` (a nested key): never touched. */
  foreign: string[];
}

/**
 * Every route key under `/<ns>/routes/`, decoded (bad JSON kept, with `value` undefined).
 * `prefix` reads another set of documents kept the same way (access rules).
 */
export async function readStoredRoutes(
  client: EtcdClient,
  namespace: string,
  prefix = routesPrefix(namespace),
): Promise<StoredRoutes> {
  const res = await client.getAll().prefix(prefix).exec();
  const routes: StoredRoute[] = [];
  const foreign: string[] = [];
  for (const kv of res.kvs) {
    const key = kv.key.toString();
    const id = key.slice(prefix.length);
    if (id === '' || id.includes('/')) {
      foreign.push(key);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(kv.value.toString());
    } catch {
      value = undefined;
    }
    routes.push({ id, key, value, modRevision: String(kv.mod_revision) });
  }
  routes.sort((a, b) => a.id.localeCompare(b.id));
  return { routes, foreign };
}

export interface AppliedRoutes {
  transactions: number;
  /** etcd's revision after the last transaction. */
  revision: string | undefined;
}

/**
 * Write the plan in transactions (one for up to ROUTES_PER_TXN writes, so a gateway
 * switches to the new table in one step). Each transaction succeeds only if every key it
 * touches is still as read: a new route's key must not exist, a changed or removed one
 * must not have moved. Otherwise it writes nothing and FAILED_PRECONDITION says to run
 * again.
 */
export async function applyRoutePlan(
  client: EtcdClient,
  namespace: string,
  plan: RoutePlan<DesiredDocument>,
  layout: { key: (id: string) => string; noun: string } = { key: (id) => routeKey(namespace, id), noun: 'routes' },
): Promise<AppliedRoutes> {
  type Write = { key: string; modRevision: string | undefined; value: string | undefined };
  const writes: Write[] = [
    ...plan.added.map((d) => ({
      key: layout.key(d.id),
      modRevision: undefined,
      value: JSON.stringify(d.route),
    })),
    ...plan.changed.map((c) => ({
      key: c.stored.key,
      modRevision: c.stored.modRevision,
      value: JSON.stringify(c.desired.route),
    })),
    ...plan.removed.map((s) => ({ key: s.key, modRevision: s.modRevision, value: undefined })),
  ];
  let revision: string | undefined;
  let transactions = 0;
  for (let i = 0; i < writes.length; i += ROUTES_PER_TXN) {
    const chunk = writes.slice(i, i + ROUTES_PER_TXN);
    // A new route's key must not exist yet; a changed or removed one must not have moved.
    const first = chunk[0]!;
    let txn =
      first.modRevision === undefined
        ? client.if(first.key, 'Version', '==', 0)
        : client.if(first.key, 'Mod', '==', first.modRevision);
    for (const w of chunk.slice(1)) {
      txn =
        w.modRevision === undefined ? txn.and(w.key, 'Version', '==', 0) : txn.and(w.key, 'Mod', '==', w.modRevision);
    }
    const ops = chunk.map((w) =>
      w.value === undefined ? client.delete().key(w.key) : client.put(w.key).value(w.value),
    );
    const res = await txn.then(...ops).commit();
    transactions++;
    if (!res.succeeded) {
      const done = i === 0 ? 'nothing was written' : `the first ${i} writes were applied, the rest were not`;
      throw new FailedPreconditionError(
        `${layout.noun} in etcd changed while applying (someone else wrote them); ${done}: run the command again`,
        { details: { hint: 'apply is idempotent: running it again converges on the file' } },
      );
    }
    revision = String(res.header.revision);
  }
  return { transactions, revision };
}
