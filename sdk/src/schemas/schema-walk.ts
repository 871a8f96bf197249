import { pointerGet } from './json-pointer.js';
import { documentUri, resolveUri } from './schema-refs.js';
import type { JsonSchema, JsonSchemaObject } from './types.js';

/** Finds a whole schema document by its URI (no fragment), e.g. for a `$ref` to another file. */
export type SchemaResolver = (id: string) => JsonSchema | undefined;

/** One side of a comparison (old or new): how its `$ref`s resolve. */
export interface Side {
  resolve: SchemaResolver | undefined;
  /** Documents met while walking (top level, nested `$id`s), by URI. */
  local: Map<string, JsonSchema>;
}

/** A subschema with what is needed to resolve the `$ref`s inside it. */
export interface SchemaNode {
  schema: JsonSchema;
  /** Base URI for relative `$ref`s here. */
  base: string;
  /** The schema resource `#...` fragments point into. */
  root: JsonSchema;
  side: Side;
}

/** A top-level node; anonymous schemas (no `$id`) get `anonymous` as their base. */
export function rootNode(schema: JsonSchema, side: Side, anonymous: string): SchemaNode {
  const id = typeof schema === 'object' && typeof schema.$id === 'string' ? schema.$id : undefined;
  const base = (id && resolveUri(id, anonymous)) || anonymous;
  side.local.set(documentUri(base), schema);
  return { schema, base, root: schema, side };
}

/** The node for `sub`, a subschema of `parent` (a nested `$id` starts a new resource). */
export function childNode(parent: SchemaNode, sub: unknown): SchemaNode {
  const schema = asSchema(sub);
  if (typeof schema === 'object' && typeof schema.$id === 'string') {
    const base = resolveUri(schema.$id, parent.base) ?? parent.base;
    parent.side.local.set(documentUri(base), schema);
    return { schema, base, root: schema, side: parent.side };
  }
  return { schema, base: parent.base, root: parent.root, side: parent.side };
}

/** The node a `$ref` in `node` points to, or undefined when it cannot be resolved. */
export function deref(node: SchemaNode, ref: string): SchemaNode | undefined {
  const abs = resolveUri(ref, node.base);
  if (abs === undefined) return undefined;
  const docUri = documentUri(abs);
  const fragment = abs.length > docUri.length ? decodeURIComponent(abs.slice(docUri.length + 1)) : '';
  const doc =
    docUri === documentUri(node.base) ? node.root : (node.side.local.get(docUri) ?? node.side.resolve?.(docUri));
  if (doc === undefined) return undefined;
  node.side.local.set(docUri, doc);
  const target =
    fragment === '' ? doc : fragment.startsWith('/') ? pointerGet(doc, fragment) : findAnchor(doc, fragment);
  if (target === undefined) return undefined;
  return childNode({ schema: doc, base: docUri, root: doc, side: node.side }, target);
}

function findAnchor(doc: unknown, anchor: string): unknown {
  if (doc === null || typeof doc !== 'object') return undefined;
  if (Array.isArray(doc)) {
    for (const item of doc) {
      const found = findAnchor(item, anchor);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const obj = doc as Record<string, unknown>;
  if (obj.$anchor === anchor || obj.$dynamicAnchor === anchor) return obj;
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'enum' || key === 'const' || key === 'examples' || key === 'default') continue;
    const found = findAnchor(value, anchor);
    if (found !== undefined) return found;
  }
  return undefined;
}

export function asSchema(value: unknown): JsonSchema {
  if (typeof value === 'boolean') return value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as JsonSchemaObject;
  return true;
}

/** Keywords that never change which payloads are valid. */
export const ANNOTATIONS: ReadonlySet<string> = new Set([
  '$schema',
  '$id',
  '$anchor',
  '$dynamicAnchor',
  '$comment',
  '$defs',
  'definitions',
  '$vocabulary',
  'title',
  'description',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  'contentMediaType',
  'contentEncoding',
  'contentSchema',
]);

/** True when the schema accepts every value (`true`, `{}`, or only annotations). */
export function acceptsEverything(schema: JsonSchema): boolean {
  if (typeof schema === 'boolean') return schema;
  return Object.keys(schema).every((k) => ANNOTATIONS.has(k));
}

/** One conjunct of a schema: all of a schema's conjuncts must hold for a value to be valid. */
export type Conjunct = { node: SchemaNode; pointer: string } | { unresolved: string; pointer: string };

const MAX_REF_DEPTH = 32;

/**
 * Split a schema into the parts a value must satisfy together: its own keywords, the
 * target of its `$ref`, and each `allOf` branch (recursively). Comparing conjunct by
 * conjunct lets a `$ref` be compared as if it were inlined, and a schema refactored into
 * `allOf` pieces still compare equal. The pointer of a `$ref` target stays the pointer of
 * the `$ref` (inlined); an `allOf` branch gets `/allOf/<i>`.
 */
export function conjuncts(node: SchemaNode, pointer: string, depth = 0): Conjunct[] {
  const s = node.schema;
  if (typeof s === 'boolean') return [{ node, pointer }];
  const out: Conjunct[] = [];
  const { $ref, allOf, ...rest } = s;
  if ($ref === undefined && allOf === undefined) return [{ node, pointer }];
  if (!acceptsEverything(rest)) out.push({ node: { ...node, schema: rest }, pointer });
  if (typeof $ref === 'string') {
    const target = depth < MAX_REF_DEPTH ? deref(node, $ref) : undefined;
    if (target === undefined) out.push({ unresolved: resolveUri($ref, node.base) ?? $ref, pointer: `${pointer}/$ref` });
    else out.push(...conjuncts(target, pointer, depth + 1));
  }
  if (Array.isArray(allOf)) {
    allOf.forEach((sub, i) => {
      out.push(...conjuncts(childNode(node, sub), `${pointer}/allOf/${i}`, depth + 1));
    });
  }
  return out.length > 0 ? out : [{ node: { ...node, schema: true }, pointer }];
}
