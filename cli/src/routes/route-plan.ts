import { canonicalJson } from '@switchyard/sdk';
import { type FieldChange, fieldChanges } from './field-diff.js';
import type { DesiredRoute } from './routes-file.js';

/** A route as stored in etcd now. */
export interface StoredRoute {
  readonly id: string;
  readonly key: string;
  /** The decoded JSON; undefined when the stored bytes are not JSON. */
  readonly value: unknown;
  /** etcd's mod revision of the key: the apply transaction fails if it moved meanwhile. */
  readonly modRevision: string;
}

/** What a plan compares: an id and the JSON document to store (a route, an access rule). */
export interface DesiredDocument {
  readonly id: string;
  readonly route: unknown;
}

export interface ChangedRoute<T extends DesiredDocument = DesiredRoute> {
  readonly desired: T;
  readonly stored: StoredRoute;
  readonly fields: FieldChange[];
}

/** What `routes apply` does to make etcd hold exactly the file's routes. */
export interface RoutePlan<T extends DesiredDocument = DesiredRoute> {
  readonly added: readonly T[];
  readonly changed: readonly ChangedRoute<T>[];
  readonly unchanged: readonly T[];
  /** In etcd, not in the file, deleted (`--prune`). */
  readonly removed: readonly StoredRoute[];
  /** In etcd, not in the file, left alone (no `--prune`). */
  readonly kept: readonly StoredRoute[];
}

/** Compare the file with the store. Equal means equal JSON: key order and formatting never count. */
export function planRoutes<T extends DesiredDocument = DesiredRoute>(
  desired: readonly T[],
  stored: readonly StoredRoute[],
  options: { prune: boolean },
): RoutePlan<T> {
  const byId = new Map(stored.map((s) => [s.id, s]));
  const added: T[] = [];
  const changed: ChangedRoute<T>[] = [];
  const unchanged: T[] = [];
  for (const d of desired) {
    const s = byId.get(d.id);
    if (!s) added.push(d);
    else if (s.value !== undefined && canonicalJson(s.value) === canonicalJson(d.route)) unchanged.push(d);
    else {
      const fields =
        s.value === undefined
          ? [{ pointer: '', kind: 'changed' as const, before: '(not JSON)', after: d.route }]
          : fieldChanges(s.value, d.route);
      changed.push({ desired: d, stored: s, fields });
    }
  }
  const inFile = new Set(desired.map((d) => d.id));
  const extra = stored.filter((s) => !inFile.has(s.id));
  return {
    added,
    changed,
    unchanged,
    removed: options.prune ? extra : [],
    kept: options.prune ? [] : extra,
  };
}

/** True when applying the plan writes nothing. */
export function isNoop(plan: RoutePlan<DesiredDocument>): boolean {
  return plan.added.length === 0 && plan.changed.length === 0 && plan.removed.length === 0;
}
