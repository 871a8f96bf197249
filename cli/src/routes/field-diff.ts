import { canonicalJson } from '@switchyard/sdk';

/** One field that differs between two versions of a JSON document. */
export interface FieldChange {
  /** JSON pointer of the field ('' for the whole document). */
  pointer: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

/**
 * The fields that differ, deepest object level first named: objects are compared key by
 * key (key order never counts), anything else — arrays included — as a whole value, which
 * reads better for short lists such as `methods` or `scopes`.
 */
export function fieldChanges(before: unknown, after: unknown, pointer = ''): FieldChange[] {
  if (canonicalJson(before) === canonicalJson(after)) return [];
  if (!isObject(before) || !isObject(after)) return [{ pointer, kind: 'changed', before, after }];
  const out: FieldChange[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    const p = `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (!Object.hasOwn(after, key)) out.push({ pointer: p, kind: 'removed', before: before[key] });
    else if (!Object.hasOwn(before, key)) out.push({ pointer: p, kind: 'added', after: after[key] });
    else out.push(...fieldChanges(before[key], after[key], p));
  }
  return out;
}

/** `/target/balancer: "round-robin" -> "p2c-latency"` */
export function describeFieldChange(c: FieldChange): string {
  const where = c.pointer === '' ? '(whole route)' : c.pointer;
  if (c.kind === 'added') return `${where}: added ${short(c.after)}`;
  if (c.kind === 'removed') return `${where}: removed (was ${short(c.before)})`;
  return `${where}: ${short(c.before)} -> ${short(c.after)}`;
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
