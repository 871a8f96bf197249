import type { JsonSchemaObject } from './types.js';

/** `uri` without its fragment. */
export function documentUri(uri: string): string {
  const hash = uri.indexOf('#');
  return hash === -1 ? uri : uri.slice(0, hash);
}

/** Resolve `ref` against `base` like a browser would; undefined when it is not a URI. */
export function resolveUri(ref: string, base: string): string | undefined {
  try {
    return new URL(ref, base).href;
  } catch {
    return undefined;
  }
}

export const DATA_KEYWORDS = new Set(['enum', 'const', 'examples', 'default']);
/** Keywords whose value maps names (not keywords) to schemas. */
export const NAME_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);

/**
 * The documents (by URI, without fragment) a schema refers to with `$ref` / `$dynamicRef`,
 * resolved against its `$id` and any nested `$id`. Its own URI is left out.
 */
export function referencedDocuments(schema: JsonSchemaObject, id: string): Set<string> {
  const out = new Set<string>();
  const self = documentUri(id);
  const walk = (node: unknown, base: string): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, base);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    let here = base;
    if (typeof obj.$id === 'string') here = resolveUri(obj.$id, base) ?? base;
    for (const key of ['$ref', '$dynamicRef']) {
      const ref = obj[key];
      if (typeof ref !== 'string') continue;
      const abs = resolveUri(ref, here);
      if (abs !== undefined && documentUri(abs) !== self) out.add(documentUri(abs));
    }
    for (const [key, value] of Object.entries(obj)) {
      // enum/const/examples/default hold data, not schemas: a "$ref" inside them is just a value.
      if (DATA_KEYWORDS.has(key)) continue;
      if (NAME_MAPS.has(key) && value !== null && typeof value === 'object') {
        for (const sub of Object.values(value)) walk(sub, here);
      } else {
        walk(value, here);
      }
    }
  };
  walk(schema, id);
  return out;
}

/**
 * `changed` plus every id that depends on one of them, directly or through other schemas:
 * the set to recompile when `changed` change.
 */
export function withDependants(
  changed: Iterable<string>,
  refsById: ReadonlyMap<string, ReadonlySet<string>>,
): Set<string> {
  const dependants = new Map<string, string[]>();
  for (const [id, refs] of refsById) {
    for (const ref of refs) {
      const list = dependants.get(ref) ?? [];
      list.push(id);
      dependants.set(ref, list);
    }
  }
  const out = new Set<string>();
  const queue = [...changed];
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (out.has(id)) continue;
    out.add(id);
    for (const d of dependants.get(id) ?? []) queue.push(d);
  }
  return out;
}
