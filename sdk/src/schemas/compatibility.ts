/**
 * The compatibility checker: `checkCompatibility` and the walk over two schemas, conjunct
 * by conjunct and keyword by keyword. Objects and combinators are compared in
 * compatibility-objects.ts and compatibility-combinators.ts; what they share is in
 * compatibility-keywords.ts.
 */
import { canonicalJson, jsonEqual } from './canonical-json.js';
import { compareCombinators } from './compatibility-combinators.js';
import {
  accepts,
  type Bound,
  canBe,
  counts,
  EMPTY,
  HANDLED,
  isMultiple,
  list,
  lowerBound,
  type Obj,
  possibleTypes,
  quoteList,
  type Recursion,
  typeList,
  upperBound,
} from './compatibility-keywords.js';
import { compareObject } from './compatibility-objects.js';
import { pointerJoin } from './json-pointer.js';
import { documentUri } from './schema-refs.js';
import {
  ANNOTATIONS,
  acceptsEverything,
  type Conjunct,
  childNode,
  conjuncts,
  rootNode,
  type SchemaNode,
  type SchemaResolver,
  type Side,
} from './schema-walk.js';
import type { Break, JsonSchema } from './types.js';

export type { SchemaResolver };

export interface CompatibilityOptions {
  /**
   * Finds other schema documents by `$id`, for `$ref`s across files. Used for the new
   * schema, and for the old one too unless `resolveOld` is given. Default: none (a `$ref`
   * to another file cannot be resolved and is reported as a possible break, unless both
   * sides point at the very same URI).
   */
  resolve?: SchemaResolver;
  /** Finds documents for the old schema's `$ref`s, e.g. the published versions. Default: `resolve`. */
  resolveOld?: SchemaResolver;
}

/**
 * Every way `newSchema` rejects a payload that `oldSchema` accepted ("backward compatible"
 * means the list is empty). Conservative: when a change cannot be proven safe (a changed
 * `oneOf`, `not`, `if`, a new `pattern`, an unknown keyword, ...) it is reported as a break
 * that says so. Pointers point into the schema, through `$ref`s as if they were inlined.
 * Old payloads are taken to carry only the properties their schema names, so a new
 * optional property on an open object is compatible (docs/schemas.md, the open-object rule).
 */
export function checkCompatibility(
  oldSchema: JsonSchema,
  newSchema: JsonSchema,
  options: CompatibilityOptions = {},
): Break[] {
  const oldSide: Side = { resolve: options.resolveOld ?? options.resolve, local: new Map() };
  const newSide: Side = { resolve: options.resolve, local: new Map() };
  const o = rootNode(oldSchema, oldSide, 'urn:switchyard:old-schema');
  const n = rootNode(newSchema, newSide, 'urn:switchyard:new-schema');
  const checker = new Checker(documentUri(n.base));
  return dedupe(checker.compare(o, n, ''));
}

function dedupe(breaks: Break[]): Break[] {
  const seen = new Set<string>();
  return breaks.filter((b) => {
    const key = `${b.pointer}\u0000${b.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Merge the old side's conjuncts into one schema when they do not constrain the same
 * keyword differently. Sound for the old side: the merge accepts at least what all
 * conjuncts together accept, so "merge ⊆ new" still proves "old ⊆ new".
 */
function mergeOld(nodes: SchemaNode[]): SchemaNode | undefined {
  const first = nodes[0]!;
  const merged: Record<string, unknown> = {};
  for (const node of nodes) {
    if (node.base !== first.base || node.root !== first.root || typeof node.schema === 'boolean') return undefined;
    for (const [k, v] of Object.entries(node.schema)) {
      if (!(k in merged)) merged[k] = v;
      else if (k === 'required' && Array.isArray(v) && Array.isArray(merged[k])) {
        merged[k] = [...new Set([...(merged[k] as unknown[]), ...v])];
      } else if (!ANNOTATIONS.has(k) && !jsonEqual(merged[k], v)) return undefined;
    }
  }
  return { ...first, schema: merged };
}

class Checker implements Recursion {
  /** Pairs (old, new) being compared on the current path: a `$ref` cycle is assumed compatible. */
  private readonly active = new Map<object, Set<object>>();
  /** Depth of `strictly` calls (see Recursion.strict). */
  private strictDepth = 0;

  constructor(private readonly newTop: string) {}

  compare(o: SchemaNode, n: SchemaNode, pointer: string): Break[] {
    if (acceptsEverything(n.schema) || o.schema === false) return [];
    const os = o.schema;
    const ns = n.schema;
    if (typeof os === 'object' && typeof ns === 'object') {
      const seen = this.active.get(os) ?? new Set<object>();
      if (seen.has(ns)) return [];
      seen.add(ns);
      this.active.set(os, seen);
      try {
        return this.compareConjuncts(conjuncts(o, pointer), conjuncts(n, pointer));
      } finally {
        seen.delete(ns);
      }
    }
    return this.compareConjuncts(conjuncts(o, pointer), conjuncts(n, pointer));
  }

  private compareConjuncts(oc: Conjunct[], nc: Conjunct[]): Break[] {
    const oldUnresolved = new Set<string>();
    const oldNodes: SchemaNode[] = [];
    for (const c of oc) {
      if ('unresolved' in c) oldUnresolved.add(c.unresolved);
      else if (c.node.schema === false) return [];
      else if (!acceptsEverything(c.node.schema)) oldNodes.push(c.node);
    }
    const single = oldNodes.length === 1 ? oldNodes[0] : oldNodes.length > 1 ? mergeOld(oldNodes) : undefined;
    const breaks: Break[] = [];
    for (const c of nc) {
      if ('unresolved' in c) {
        // Both sides point at the same document nobody can show us: assume it is the same one.
        if (!oldUnresolved.has(c.unresolved)) {
          breaks.push({
            pointer: c.pointer,
            message: `$ref ${c.unresolved} cannot be resolved; cannot prove the change compatible`,
          });
        }
        continue;
      }
      if (acceptsEverything(c.node.schema)) continue;
      if (oldNodes.length === 0) {
        // The old schema accepted everything (apart from refs we could not see).
        const everything: SchemaNode = { schema: true, base: c.node.base, root: true, side: c.node.side };
        breaks.push(...this.compareFlat(everything, c.node, c.pointer));
      } else if (single) {
        breaks.push(...this.compareFlat(single, c.node, c.pointer));
      } else {
        // Each new conjunct must be implied by some old conjunct; report the closest miss.
        let best: Break[] | undefined;
        for (const on of oldNodes) {
          const found = this.compareFlat(on, c.node, c.pointer);
          if (best === undefined || found.length < best.length) best = found;
          if (found.length === 0) break;
        }
        breaks.push(...(best ?? []));
      }
    }
    return breaks;
  }

  get strict(): boolean {
    return this.strictDepth > 0;
  }

  equivalent(a: SchemaNode, b: SchemaNode): boolean {
    return this.strictly(() => this.compare(a, b, '').length === 0 && this.compare(b, a, '').length === 0);
  }

  strictly<T>(fn: () => T): T {
    this.strictDepth++;
    try {
      return fn();
    } finally {
      this.strictDepth--;
    }
  }

  /** Compare two schemas without `$ref`/`allOf` at their top, keyword by keyword. */
  private compareFlat(o: SchemaNode, n: SchemaNode, path: string): Break[] {
    const breaks: Break[] = [];
    const doc = documentUri(n.base);
    const where = doc === this.newTop || doc.startsWith('urn:switchyard:') ? '' : ` (in ${doc})`;
    const br = (pointer: string, message: string) => breaks.push({ pointer, message: message + where });
    if (n.schema === false) {
      br(path, 'schema is now false: every value is rejected');
      return breaks;
    }
    const O: Obj = o.schema === true || o.schema === false ? EMPTY : o.schema;
    const N: Obj = n.schema === true ? EMPTY : n.schema;
    const child = (side: SchemaNode, sub: unknown) => childNode(side, sub);
    const sub = (os: unknown, nsub: unknown, pointer: string, sink: Break[] = breaks) =>
      sink.push(...this.compare(child(o, os), child(n, nsub), pointer));
    const oldTypes = possibleTypes(O);

    // --- type, const, enum
    if (N.type !== undefined) {
      const newTypes = new Set(typeList(N.type));
      if (oldTypes === undefined) {
        br(`${path}/type`, `type narrowed to ${list(newTypes)}: values of any type were accepted before`);
      } else {
        const lost = [...oldTypes].filter((t) => !accepts(newTypes, t));
        if (lost.length > 0) {
          const detail =
            lost.length === 1 && lost[0] === 'number' && newTypes.has('integer')
              ? 'numbers with a fraction are no longer accepted'
              : `${list(lost)} no longer accepted`;
          br(`${path}/type`, `type narrowed from ${list(oldTypes)} to ${list(newTypes)}: ${detail}`);
        }
      }
    }
    const oldValues = O.const !== undefined ? [O.const] : Array.isArray(O.enum) ? O.enum : undefined;
    if (N.const !== undefined) {
      if (oldValues === undefined)
        br(`${path}/const`, `const ${canonicalJson(N.const)} added: other values were accepted before`);
      else if (oldValues.some((v) => !jsonEqual(v, N.const))) {
        br(
          `${path}/const`,
          O.const !== undefined
            ? `const changed from ${canonicalJson(O.const)} to ${canonicalJson(N.const)}`
            : `const ${canonicalJson(N.const)} replaces enum ${quoteList(oldValues)}: other values are no longer accepted`,
        );
      }
    }
    if (Array.isArray(N.enum)) {
      const allowed = new Set(N.enum.map(canonicalJson));
      if (oldValues === undefined)
        br(`${path}/enum`, `enum added (${quoteList(N.enum)}): other values were accepted before`);
      else {
        const lost = oldValues.filter((v) => !allowed.has(canonicalJson(v)));
        if (lost.length > 0) br(`${path}/enum`, `enum narrowed: ${quoteList(lost)} no longer accepted`);
      }
    }

    // --- numbers
    if (canBe(oldTypes, 'number')) {
      const nl = lowerBound(N);
      const ol = lowerBound(O);
      const show = (b: Bound, lower: boolean) => `${lower ? '>' : '<'}${b.exclusive ? '' : '='} ${b.value}`;
      if (nl && (!ol || nl.value > ol.value || (nl.value === ol.value && nl.exclusive && !ol.exclusive))) {
        br(
          `${path}/${nl.keyword}`,
          ol
            ? `lower bound narrowed from ${show(ol, true)} to ${show(nl, true)}: values in between are now rejected`
            : `lower bound added (${nl.keyword} ${nl.value}): smaller values were accepted before`,
        );
      }
      const nu = upperBound(N);
      const ou = upperBound(O);
      if (nu && (!ou || nu.value < ou.value || (nu.value === ou.value && nu.exclusive && !ou.exclusive))) {
        br(
          `${path}/${nu.keyword}`,
          ou
            ? `upper bound narrowed from ${show(ou, false)} to ${show(nu, false)}: values in between are now rejected`
            : `upper bound added (${nu.keyword} ${nu.value}): larger values were accepted before`,
        );
      }
      if (typeof N.multipleOf === 'number') {
        if (typeof O.multipleOf !== 'number') {
          br(`${path}/multipleOf`, `multipleOf ${N.multipleOf} added: other numbers were accepted before`);
        } else if (!isMultiple(O.multipleOf, N.multipleOf)) {
          br(
            `${path}/multipleOf`,
            `multipleOf changed from ${O.multipleOf} to ${N.multipleOf}: some multiples of ${O.multipleOf} are now rejected`,
          );
        }
      }
    }

    // --- strings
    if (canBe(oldTypes, 'string')) {
      counts(O, N, path, 'minLength', 'maxLength', 'strings', 'characters', br);
      if (typeof N.pattern === 'string' && N.pattern !== O.pattern) {
        br(
          `${path}/pattern`,
          O.pattern === undefined
            ? `pattern ${N.pattern} added: strings that do not match it were accepted before`
            : `pattern changed from ${String(O.pattern)} to ${N.pattern}: cannot prove every old match still matches`,
        );
      }
      if (typeof N.format === 'string' && N.format !== O.format) {
        br(
          `${path}/format`,
          O.format === undefined
            ? `format "${N.format}" added: strings not in that format were accepted before`
            : `format changed from "${String(O.format)}" to "${N.format}"`,
        );
      }
    }

    // --- arrays
    if (canBe(oldTypes, 'array')) {
      counts(O, N, path, 'minItems', 'maxItems', 'arrays', 'items', br);
      if (N.uniqueItems === true && O.uniqueItems !== true) {
        br(`${path}/uniqueItems`, 'uniqueItems added: arrays with duplicates were accepted before');
      }
      if (N.items !== undefined || N.prefixItems !== undefined) {
        const op = Array.isArray(O.prefixItems) ? O.prefixItems : [];
        const np = Array.isArray(N.prefixItems) ? N.prefixItems : [];
        for (let i = 0; i < Math.max(op.length, np.length); i++) {
          const oldItem = i < op.length ? op[i] : (O.items ?? true);
          const newItem = i < np.length ? np[i] : (N.items ?? true);
          sub(oldItem, newItem, i < np.length ? `${path}/prefixItems/${i}` : `${path}/items`);
        }
        if (N.items !== undefined) sub(O.items ?? true, N.items, `${path}/items`);
      }
      if (N.contains !== undefined) {
        const sameContains = O.contains !== undefined && this.equivalent(child(o, O.contains), child(n, N.contains));
        const minOk =
          (typeof N.minContains === 'number' ? N.minContains : 1) <=
          (typeof O.minContains === 'number' ? O.minContains : 1);
        const maxOk =
          N.maxContains === undefined ||
          (typeof O.maxContains === 'number' && (N.maxContains as number) >= O.maxContains);
        if (!sameContains || !minOk || !maxOk) {
          br(
            `${path}/contains`,
            O.contains === undefined
              ? 'contains added: arrays without a matching item were accepted before'
              : 'contains/minContains/maxContains changed; cannot prove the change compatible',
          );
        }
      }
      if (N.unevaluatedItems !== undefined && !jsonEqual(O.unevaluatedItems, N.unevaluatedItems)) {
        if (N.unevaluatedItems === false) {
          br(
            `${path}/unevaluatedItems`,
            'unevaluatedItems closed: extra items were accepted before and are now rejected',
          );
        } else sub(O.unevaluatedItems ?? true, N.unevaluatedItems, `${path}/unevaluatedItems`);
      }
    }

    // --- objects
    if (canBe(oldTypes, 'object')) compareObject(this, O, N, path, br, sub);

    // --- combinators
    compareCombinators(this, o, n, O, N, path, br, sub);

    // --- anything else: unchanged, or a change we cannot reason about
    for (const k of Object.keys(N)) {
      if (HANDLED.has(k) || ANNOTATIONS.has(k)) continue;
      if (!jsonEqual(O[k], N[k])) {
        br(
          pointerJoin(path, k),
          `keyword "${k}" ${O[k] === undefined ? 'added' : 'changed'}; cannot prove the change compatible`,
        );
      }
    }
    return breaks;
  }
}
