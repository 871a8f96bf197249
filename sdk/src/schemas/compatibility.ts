import { canonicalJson, jsonEqual } from './canonical-json.js';
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
import type { Break, JsonSchema, JsonSchemaObject } from './types.js';

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

type Obj = JsonSchemaObject;
const EMPTY: Obj = {};

/** Keywords `compareFlat` understands; any other keyword that changes is a possible break. */
const HANDLED = new Set([
  'type',
  'enum',
  'const',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minItems',
  'maxItems',
  'uniqueItems',
  'prefixItems',
  'items',
  'contains',
  'minContains',
  'maxContains',
  'unevaluatedItems',
  'required',
  'properties',
  'patternProperties',
  'additionalProperties',
  'propertyNames',
  'minProperties',
  'maxProperties',
  'dependentRequired',
  'dependentSchemas',
  'unevaluatedProperties',
  'anyOf',
  'oneOf',
  'not',
  'if',
  'then',
  'else',
]);

type JsonType = 'null' | 'boolean' | 'object' | 'array' | 'string' | 'number' | 'integer';

function jsonType(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as JsonType;
}

function typeList(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];
}

/** A `type` set accepts `t` (every integer is a number). */
function accepts(types: ReadonlySet<string>, t: string): boolean {
  return types.has(t) || (t === 'integer' && types.has('number'));
}

/** The JSON types a schema can accept, from `type`, `const` and `enum`; undefined = any. */
function possibleTypes(s: Obj): Set<string> | undefined {
  const declared = s.type === undefined ? undefined : new Set(typeList(s.type));
  const values = s.const !== undefined ? [s.const] : Array.isArray(s.enum) ? s.enum : undefined;
  if (values === undefined) return declared;
  const fromValues = new Set<string>();
  for (const v of values) {
    const t = jsonType(v);
    if (declared === undefined || accepts(declared, t)) fromValues.add(t);
  }
  return fromValues;
}

function canBe(types: ReadonlySet<string> | undefined, kind: 'number' | 'string' | 'array' | 'object'): boolean {
  if (types === undefined) return true;
  return kind === 'number' ? types.has('number') || types.has('integer') : types.has(kind);
}

function list(values: Iterable<unknown>): string {
  return [...values].map((v) => (typeof v === 'string' ? v : canonicalJson(v))).join(', ');
}

function quoteList(values: Iterable<unknown>): string {
  return [...values].map(canonicalJson).join(', ');
}

interface Bound {
  value: number;
  exclusive: boolean;
  keyword: string;
}

function lowerBound(s: Obj): Bound | undefined {
  const min = typeof s.minimum === 'number' ? { value: s.minimum, exclusive: false, keyword: 'minimum' } : undefined;
  const ex =
    typeof s.exclusiveMinimum === 'number'
      ? { value: s.exclusiveMinimum, exclusive: true, keyword: 'exclusiveMinimum' }
      : undefined;
  if (!min) return ex;
  if (!ex) return min;
  return ex.value >= min.value ? ex : min;
}

function upperBound(s: Obj): Bound | undefined {
  const max = typeof s.maximum === 'number' ? { value: s.maximum, exclusive: false, keyword: 'maximum' } : undefined;
  const ex =
    typeof s.exclusiveMaximum === 'number'
      ? { value: s.exclusiveMaximum, exclusive: true, keyword: 'exclusiveMaximum' }
      : undefined;
  if (!max) return ex;
  if (!ex) return max;
  return ex.value <= max.value ? ex : max;
}

function isMultiple(value: number, of: number): boolean {
  const r = value / of;
  return Math.abs(r - Math.round(r)) < 1e-9;
}

function obj(value: unknown): Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : EMPTY;
}

function regex(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
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

class Checker {
  /** Pairs (old, new) being compared on the current path: a `$ref` cycle is assumed compatible. */
  private readonly active = new Map<object, Set<object>>();
  /**
   * Above 0 while proving equivalence or comparing the other way round (inside `not`):
   * there the open-object rule does not hold (it assumes old payloads, not new ones, leave
   * out undeclared properties), so every comparison is strict set inclusion.
   */
  private strict = 0;

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

  private equivalent(a: SchemaNode, b: SchemaNode): boolean {
    return this.strictly(() => this.compare(a, b, '').length === 0 && this.compare(b, a, '').length === 0);
  }

  private strictly<T>(fn: () => T): T {
    this.strict++;
    try {
      return fn();
    } finally {
      this.strict--;
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
      this.counts(O, N, path, 'minLength', 'maxLength', 'strings', 'characters', br);
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
      this.counts(O, N, path, 'minItems', 'maxItems', 'arrays', 'items', br);
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
    if (canBe(oldTypes, 'object')) this.compareObject(O, N, path, br, sub);

    // --- combinators
    this.compareCombinators(o, n, O, N, path, br, sub);

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

  /** min/max pairs: the new minimum may only go down, the new maximum only up. */
  private counts(
    O: Obj,
    N: Obj,
    path: string,
    minKw: string,
    maxKw: string,
    what: string,
    unit: string,
    br: (pointer: string, message: string) => void,
  ): void {
    const nMin = typeof N[minKw] === 'number' ? (N[minKw] as number) : 0;
    const oMin = typeof O[minKw] === 'number' ? (O[minKw] as number) : 0;
    if (nMin > oMin) {
      br(`${path}/${minKw}`, `${minKw} raised from ${oMin} to ${nMin}: ${what} with fewer ${unit} are now rejected`);
    }
    if (typeof N[maxKw] === 'number') {
      const nMax = N[maxKw] as number;
      const oMax = typeof O[maxKw] === 'number' ? (O[maxKw] as number) : undefined;
      if (oMax === undefined) {
        br(`${path}/${maxKw}`, `${maxKw} ${nMax} added: ${what} with more ${unit} were accepted before`);
      } else if (nMax < oMax) {
        br(`${path}/${maxKw}`, `${maxKw} lowered from ${oMax} to ${nMax}: ${what} with more ${unit} are now rejected`);
      }
    }
  }

  private compareObject(
    O: Obj,
    N: Obj,
    path: string,
    br: (pointer: string, message: string) => void,
    sub: (os: unknown, ns: unknown, pointer: string, sink?: Break[]) => void,
  ): void {
    const oProps = obj(O.properties);
    const nProps = obj(N.properties);
    const oPatterns = obj(O.patternProperties);
    const nPatterns = obj(N.patternProperties);
    const matching = (patterns: Obj, name: string) =>
      Object.keys(patterns).filter((p) => regex(p)?.test(name) ?? false);

    // What the old schema allowed under a property name: its own schema, else a matching
    // pattern, else additionalProperties (one of them when several apply: more permissive,
    // so a clean comparison still proves compatibility).
    const oldFor = (name: string): unknown => {
      if (Object.hasOwn(oProps, name)) return oProps[name];
      const p = matching(oPatterns, name)[0];
      return p !== undefined ? oPatterns[p] : (O.additionalProperties ?? true);
    };
    // The open-object rule: a payload carries only the properties its schema names, so a
    // property new to an open object (no additionalProperties, or true; no pattern for the
    // name) was absent from every old payload, whatever schema it gets now. Not in strict
    // comparisons (see `strict`).
    const open = O.additionalProperties === undefined || O.additionalProperties === true;
    for (const name of Object.keys(nProps)) {
      if (open && this.strict === 0 && !Object.hasOwn(oProps, name) && matching(oPatterns, name).length === 0) continue;
      sub(oldFor(name), nProps[name], pointerJoin(path, 'properties', name));
    }
    const newLeftover = N.additionalProperties ?? N.unevaluatedProperties ?? true;
    for (const name of Object.keys(oProps)) {
      if (Object.hasOwn(nProps, name)) continue;
      const patterns = matching(nPatterns, name);
      const pointer = pointerJoin(path, 'properties', name);
      if (patterns.length > 0) {
        for (const p of patterns) sub(oProps[name], nPatterns[p], pointer);
      } else if (newLeftover === false && oProps[name] !== false) {
        const closedBy = N.additionalProperties === false ? 'additionalProperties' : 'unevaluatedProperties';
        br(
          pointer,
          `property "${name}" was removed and is no longer allowed (${closedBy} is false): payloads that had it are now rejected`,
        );
      } else sub(oProps[name], newLeftover, pointer);
    }
    for (const p of Object.keys(nPatterns)) {
      const pointer = pointerJoin(path, 'patternProperties', p);
      sub(Object.hasOwn(oPatterns, p) ? oPatterns[p] : (O.additionalProperties ?? true), nPatterns[p], pointer);
      // Properties kept by name must also pass a new pattern they match (removed ones were compared above).
      for (const name of Object.keys(nProps)) {
        if (regex(p)?.test(name)) sub(oldFor(name), nPatterns[p], pointer);
      }
    }
    if (N.additionalProperties !== undefined) {
      const pointer = `${path}/additionalProperties`;
      if (N.additionalProperties === false && O.additionalProperties !== false) {
        br(pointer, 'additionalProperties closed: properties not listed were accepted before and are now rejected');
      } else {
        sub(O.additionalProperties ?? true, N.additionalProperties, pointer);
      }
      // Names an old pattern covered that no new pattern does now fall to additionalProperties.
      for (const p of Object.keys(oPatterns)) {
        if (!Object.hasOwn(nPatterns, p) && N.additionalProperties !== false)
          sub(oPatterns[p], N.additionalProperties, pointer);
      }
    }
    if (N.unevaluatedProperties !== undefined && !jsonEqual(O.unevaluatedProperties, N.unevaluatedProperties)) {
      const pointer = `${path}/unevaluatedProperties`;
      if (N.unevaluatedProperties === false) {
        br(
          pointer,
          'unevaluatedProperties closed: properties no other keyword covers were accepted before and are now rejected',
        );
      } else sub(O.unevaluatedProperties ?? true, N.unevaluatedProperties, pointer);
    }
    const oldRequired = new Set(Array.isArray(O.required) ? O.required.map(String) : []);
    for (const r of Array.isArray(N.required) ? N.required.map(String) : []) {
      if (!oldRequired.has(r)) {
        br(`${path}/required`, `property "${r}" became required: payloads without it were accepted before`);
      }
    }
    const oDeps = obj(O.dependentRequired);
    for (const [k, deps] of Object.entries(obj(N.dependentRequired))) {
      const before = new Set([...(Array.isArray(oDeps[k]) ? (oDeps[k] as unknown[]).map(String) : []), ...oldRequired]);
      for (const d of Array.isArray(deps) ? deps.map(String) : []) {
        if (!before.has(d)) {
          br(pointerJoin(path, 'dependentRequired', k), `property "${d}" became required when "${k}" is present`);
        }
      }
    }
    const oDepSchemas = obj(O.dependentSchemas);
    for (const [k, s] of Object.entries(obj(N.dependentSchemas))) {
      sub(oDepSchemas[k] ?? true, s, pointerJoin(path, 'dependentSchemas', k));
    }
    if (N.propertyNames !== undefined) {
      sub(O.propertyNames ?? { type: 'string' }, N.propertyNames, `${path}/propertyNames`);
    }
    this.counts(O, N, path, 'minProperties', 'maxProperties', 'objects', 'properties', br);
  }

  private compareCombinators(
    o: SchemaNode,
    n: SchemaNode,
    O: Obj,
    N: Obj,
    path: string,
    br: (pointer: string, message: string) => void,
    sub: (os: unknown, ns: unknown, pointer: string, sink?: Break[]) => void,
  ): void {
    const branches = (side: SchemaNode, value: unknown) =>
      Array.isArray(value) ? value.map((s) => childNode(side, s)) : [];
    const covered = (old: SchemaNode, news: SchemaNode[]) => news.some((nb) => this.compare(old, nb, '').length === 0);
    // Old payloads each match some old branch (or the whole old schema when it had none).
    const oldAlternatives = (): SchemaNode[] =>
      Array.isArray(O.anyOf) ? branches(o, O.anyOf) : Array.isArray(O.oneOf) ? branches(o, O.oneOf) : [o];

    if (Array.isArray(N.anyOf)) {
      const news = branches(n, N.anyOf);
      if (!Array.isArray(O.anyOf) && !Array.isArray(O.oneOf)) {
        if (!covered(o, news)) {
          br(`${path}/anyOf`, 'anyOf added; cannot prove that every old payload matches one of its branches');
        }
      } else {
        oldAlternatives().forEach((ob, i) => {
          if (!covered(ob, news)) {
            br(
              `${path}/anyOf`,
              `anyOf narrowed: old branch ${i} is not covered by any new branch; cannot prove the change compatible`,
            );
          }
        });
      }
    }

    if (Array.isArray(N.oneOf)) {
      const news = branches(n, N.oneOf);
      const olds = Array.isArray(O.oneOf) ? branches(o, O.oneOf) : undefined;
      const same =
        olds !== undefined && olds.length === news.length && olds.every((ob, i) => this.equivalent(ob, news[i]!));
      if (!same) {
        const disjoint = this.disjoint(news);
        const uncovered = disjoint ? oldAlternatives().filter((ob) => !covered(ob, news)) : [];
        if (!disjoint || uncovered.length > 0) {
          br(
            `${path}/oneOf`,
            disjoint
              ? 'oneOf narrowed: some old payloads match none of the new branches'
              : 'oneOf changed; cannot prove that every old payload still matches exactly one branch',
          );
        }
      }
    }

    if (N.not !== undefined) {
      // Valid now means "not N.not"; safe when everything N.not matches, O.not matched too.
      const safe =
        O.not !== undefined &&
        this.strictly(() => this.compare(childNode(n, N.not), childNode(o, O.not), '').length === 0);
      if (!safe) {
        br(
          `${path}/not`,
          O.not === undefined
            ? 'not added; cannot prove that no old payload matches it'
            : 'not changed; cannot prove the change compatible',
        );
      }
    }

    if (N.if !== undefined && (N.then !== undefined || N.else !== undefined)) {
      if (O.if !== undefined && this.equivalent(childNode(o, O.if), childNode(n, N.if))) {
        if (N.then !== undefined) sub(O.then ?? true, N.then, `${path}/then`);
        if (N.else !== undefined) sub(O.else ?? true, N.else, `${path}/else`);
      } else {
        br(
          `${path}/if`,
          O.if === undefined
            ? 'if/then/else added; cannot prove the change compatible'
            : 'if changed; cannot prove the change compatible',
        );
      }
    }
  }

  /**
   * Branches no value can match two of at once: each is an object with a required
   * property whose `const`/`enum` values no other branch shares (a discriminator).
   */
  private disjoint(branches: SchemaNode[]): boolean {
    if (branches.length < 2) return true;
    const infos = branches.map((b) => discriminatorInfo(b));
    if (infos.some((i) => !i.object)) return false;
    const candidates = [...infos[0]!.values.keys()].filter((name) => infos.every((i) => i.values.has(name)));
    return candidates.some((name) => {
      const seen = new Set<string>();
      for (const info of infos) {
        for (const v of info.values.get(name)!) {
          if (seen.has(v)) return false;
        }
        for (const v of info.values.get(name)!) seen.add(v);
      }
      return true;
    });
  }
}

/** For one oneOf branch: is it object-only, and which required properties pin a value set. */
function discriminatorInfo(branch: SchemaNode): { object: boolean; values: Map<string, string[]> } {
  let object = false;
  const required = new Set<string>();
  const pinned = new Map<string, string[]>();
  for (const c of conjuncts(branch, '')) {
    if ('unresolved' in c || typeof c.node.schema === 'boolean') continue;
    const s = c.node.schema;
    if (typeList(s.type).length > 0 && typeList(s.type).every((t) => t === 'object')) object = true;
    for (const r of Array.isArray(s.required) ? s.required : []) required.add(String(r));
    for (const [name, propSchema] of Object.entries(obj(s.properties))) {
      for (const pc of conjuncts(childNode(c.node, propSchema), '')) {
        if ('unresolved' in pc || typeof pc.node.schema === 'boolean') continue;
        const ps = pc.node.schema;
        const values = ps.const !== undefined ? [ps.const] : Array.isArray(ps.enum) ? ps.enum : undefined;
        if (values) pinned.set(name, values.map(canonicalJson));
      }
    }
  }
  for (const name of [...pinned.keys()]) if (!required.has(name)) pinned.delete(name);
  return { object, values: pinned };
}
