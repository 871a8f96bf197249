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

export interface ChangedRoute {
  readonly desired: DesiredRoute;
  readonly stored: StoredRoute;
  readonly fields: FieldChange[];
}

/** What `routes apply` does to make etcd hold exactly the file's routes. */
export interface RoutePlan {
  readonly added: readonly DesiredRoute[];
  readonly changed: readonly ChangedRoute[];
  readonly unchanged: readonly DesiredRoute[];
  /** In etcd, not in the file, deleted (`--prune`). */
  readonly removed: readonly StoredRoute[];
  /** In etcd, not in the file, left alone (no `--prune`). */
  readonly kept: readonly StoredRoute[];
}

/** Compare the file with the store. Equal means equal JSON: key order and formatting never count. */
export function planRoutes(
  desired: readonly DesiredRoute[],
  stored: readonly StoredRoute[],
  options: { prune: boolean },
): RoutePlan {
  const byId = new Map(stored.map((s) => [s.id, s]));
  const added: DesiredRoute[] = [];
  const changed: ChangedRoute[] = [];
  const unchanged: DesiredRoute[] = [];
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
export function isNoop(plan: RoutePlan): boolean {
  return plan.added.length === 0 && plan.changed.length === 0 && plan.removed.length === 0;
}
