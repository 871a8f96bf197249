import { DATA_KEYWORDS, documentUri, NAME_MAPS, resolveUri } from './schema-refs.js';
import type { JsonSchemaObject } from './types.js';

/** A set of schemas made into one self-contained group, for OpenAPI/AsyncAPI `components`. */
export interface SchemaBundle {
  /** Component name → schema, every `$ref` between them local (`<pointerBase><name>…`). */
  readonly components: Record<string, JsonSchemaObject>;
  /** The component name of a schema `$id` that was bundled; undefined when it was not found. */
  nameOf(id: string): string | undefined;
  /** `$id`s asked for (or referenced) that the lookup did not know. */
  readonly missing: readonly string[];
}

export interface BundleOptions {
  /** Where components live in the containing document. Default `#/components/schemas/`. */
  pointerBase?: string;
  /** Names already taken in the same components map (e.g. the error body). */
  reserved?: readonly string[];
}

/**
 * Gathers `ids` and every schema they reference (transitively) into named components, and
 * rewrites each `$ref` between them to a local pointer into the containing document, so
 * that no tool has to fetch or resolve a schema URI. `$id` and `$schema` are dropped from
 * the copies (a kept `$id` would make the local pointers resolve against the schema, not
 * the document) and the original `$id` is kept as `x-switchyard-schema`.
 */
export function bundleSchemas(
  ids: Iterable<string>,
  lookup: (id: string) => JsonSchemaObject | undefined,
  options: BundleOptions = {},
): SchemaBundle {
  const base = options.pointerBase ?? '#/components/schemas/';
  const names = new Map<string, string>();
  const taken = new Set(options.reserved ?? []);
  const missing = new Set<string>();
  const queue: string[] = [];
  const want = (id: string): void => {
    const doc = documentUri(id);
    if (names.has(doc) || missing.has(doc)) return;
    if (lookup(doc) === undefined) {
      missing.add(doc);
      return;
    }
    names.set(doc, uniqueName(componentName(doc), taken));
    queue.push(doc);
  };
  for (const id of ids) want(id);
  const components: Record<string, JsonSchemaObject> = {};
  while (queue.length > 0) {
    const id = queue.shift()!;
    const schema = lookup(id)!;
    const rewritten = rewrite(schema, id, (abs) => {
      const doc = documentUri(abs);
      want(doc);
      const name = names.get(doc);
      if (name === undefined) return undefined;
      const fragment = abs.slice(doc.length + 1);
      return fragment === '' || fragment.startsWith('/') ? `${base}${name}${fragment}` : undefined;
    }) as Record<string, unknown>;
    delete rewritten.$id;
    delete rewritten.$schema;
    rewritten['x-switchyard-schema'] = id;
    components[names.get(id)!] = rewritten;
  }
  return {
    components,
    nameOf: (id) => names.get(documentUri(id)),
    missing: [...missing].sort(),
  };
}

/** A copy of `node` with each resolvable `$ref` replaced by what `local` gives for its absolute URI. */
function rewrite(node: unknown, base: string, local: (abs: string) => string | undefined): unknown {
  if (Array.isArray(node)) return node.map((item) => rewrite(item, base, local));
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  let here = base;
  if (typeof obj.$id === 'string') here = resolveUri(obj.$id, base) ?? base;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (key === '$ref' && typeof value === 'string') {
      const abs = resolveUri(value, here);
      out[key] = (abs !== undefined && local(abs)) || value;
    } else if (DATA_KEYWORDS.has(key)) {
      out[key] = value;
    } else if (NAME_MAPS.has(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v, here, local)]));
    } else {
      out[key] = rewrite(value, here, local);
    }
  }
  return out;
}

/** `https://schemas.example/orders/order.create.request.json` → `orders.order.create.request`. */
export function componentName(id: string): string {
  let path = id;
  try {
    const url = new URL(id);
    path = url.protocol === 'http:' || url.protocol === 'https:' ? url.pathname : url.href.slice(url.protocol.length);
  } catch {
    // Not a URI: use it as it is.
  }
  const name = path
    .replace(/\.json$/i, '')
    .replace(/^\/+/, '')
    .replace(/\//g, '.')
    .replace(/[^A-Za-z0-9._-]/g, '_');
  return name === '' ? 'schema' : name;
}

function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let i = 2; taken.has(candidate); i++) candidate = `${name}_${i}`;
  taken.add(candidate);
  return candidate;
}
