import { InvalidArgumentError } from '@switchyard/broker';

/** A config document: a JSON object (layers and the merged view). */
export type ConfigDocument = Record<string, unknown>;

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Split a dotted path (`features.checkout`) into segments; '' is the whole document.
 * Segments are letters, digits, `_` and `-`, the characters that survive in an etcd key,
 * an environment variable and a file name alike, so one path names one setting in every
 * source.
 */
export function parsePath(path: string): readonly string[] {
  if (typeof path !== 'string')
    throw new InvalidArgumentError('a config path must be a string such as "features.checkout"');
  if (path === '') return [];
  const segments = path.split('.');
  for (const s of segments) {
    if (!SEGMENT.test(s)) {
      throw new InvalidArgumentError(
        `config path ${JSON.stringify(path)} is invalid: each dot-separated part is letters, digits, "_" or "-"`,
        { details: { path } },
      );
    }
  }
  return segments;
}

export function isObject(value: unknown): value is ConfigDocument {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function getAt(doc: unknown, segments: readonly string[]): unknown {
  let at: unknown = doc;
  for (const s of segments) {
    if (!isObject(at) || !Object.hasOwn(at, s)) return undefined;
    at = at[s];
  }
  return at;
}

/** Set a value at a path in place, creating objects on the way (a scalar on the way is replaced). */
export function setAt(doc: ConfigDocument, segments: readonly string[], value: unknown): void {
  if (segments.length === 0) {
    if (!isObject(value)) throw new InvalidArgumentError('the config document itself must be an object');
    for (const k of Object.keys(doc)) delete doc[k];
    Object.assign(doc, value);
    return;
  }
  let at = doc;
  for (const s of segments.slice(0, -1)) {
    const next = at[s];
    if (isObject(next)) at = next;
    else {
      const made: ConfigDocument = {};
      at[s] = made;
      at = made;
    }
  }
  at[segments[segments.length - 1]!] = value;
}

/** Remove the value at a path in place, and the objects it leaves empty. */
export function deleteAt(doc: ConfigDocument, segments: readonly string[]): void {
  if (segments.length === 0) return;
  const trail: ConfigDocument[] = [doc];
  for (const s of segments.slice(0, -1)) {
    const next = trail[trail.length - 1]![s];
    if (!isObject(next)) return;
    trail.push(next);
  }
  delete trail[trail.length - 1]![segments[segments.length - 1]!];
  for (let i = trail.length - 1; i > 0; i--) {
    if (Object.keys(trail[i]!).length > 0) break;
    delete trail[i - 1]![segments[i - 1]!];
  }
}

/** `over` merged onto `base`: objects merge key by key, anything else (arrays too) replaces. Neither is changed. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: ConfigDocument = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = Object.hasOwn(out, k) ? deepMerge(out[k], v) : v;
  return out;
}

/** Every leaf (a value that is not a non-empty object) with its path, so a document can be written key by key. */
export function leaves(doc: ConfigDocument, prefix: readonly string[] = []): Array<[readonly string[], unknown]> {
  const out: Array<[readonly string[], unknown]> = [];
  for (const [k, v] of Object.entries(doc)) {
    const path = [...prefix, k];
    if (isObject(v) && Object.keys(v).length > 0) out.push(...leaves(v, path));
    else out.push([path, v]);
  }
  return out;
}

/** A deep copy that no caller can change: the view handed to `get()` and watchers. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A JSON copy: config values are JSON, and a copy keeps one layer's edits out of another's. */
export function jsonCopy<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/**
 * A config value as JSON text, or INVALID_ARGUMENT naming `what` when it has no JSON form
 * (undefined, a function, a BigInt, a cycle): refused before anything is written.
 */
export function configJson(what: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not serialisable as JSON: ${(err as Error).message}`, {
      details: { reason: 'not_serialisable' },
    });
  }
  if (text === undefined) {
    throw new InvalidArgumentError(`${what} is not serialisable as JSON (${typeof value})`, {
      details: { reason: 'not_serialisable' },
    });
  }
  return text;
}

/** A stored value: JSON, or (what a bare `etcdctl put` leaves) the text itself. */
export function decodeConfigValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
