/**
 * What the keyword comparisons of the compatibility checker share: the JSON types and
 * bounds a schema allows, small readers of keyword values, and the handle the object and
 * combinator comparisons (compatibility-objects.ts, compatibility-combinators.ts) call
 * back into the checker with.
 */
import { canonicalJson } from './canonical-json.js';
import type { SchemaNode } from './schema-walk.js';
import type { Break, JsonSchemaObject } from './types.js';

/** Report a break at `pointer`. */
export type Report = (pointer: string, message: string) => void;
/** Compare the old subschema `os` with the new `ns` at `pointer`; breaks go to `sink` (default: the current comparison's). */
export type CompareSub = (os: unknown, ns: unknown, pointer: string, sink?: Break[]) => void;

/** The checker, as the keyword comparisons see it. */
export interface Recursion {
  compare(o: SchemaNode, n: SchemaNode, pointer: string): Break[];
  /** Each accepts what the other does (compared strictly). */
  equivalent(a: SchemaNode, b: SchemaNode): boolean;
  /** Run `fn` with the open-object rule off (see `strict`). */
  strictly<T>(fn: () => T): T;
  /**
   * True while proving equivalence or comparing the other way round (inside `not`): there
   * the open-object rule does not hold (it assumes old payloads, not new ones, leave out
   * undeclared properties), so every comparison is strict set inclusion.
   */
  readonly strict: boolean;
}

export type Obj = JsonSchemaObject;
export const EMPTY: Obj = {};

/** Keywords `compareFlat` understands; any other keyword that changes is a possible break. */
export const HANDLED = new Set([
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

export function typeList(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];
}

/** A `type` set accepts `t` (every integer is a number). */
export function accepts(types: ReadonlySet<string>, t: string): boolean {
  return types.has(t) || (t === 'integer' && types.has('number'));
}

/** The JSON types a schema can accept, from `type`, `const` and `enum`; undefined = any. */
export function possibleTypes(s: Obj): Set<string> | undefined {
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

export function canBe(types: ReadonlySet<string> | undefined, kind: 'number' | 'string' | 'array' | 'object'): boolean {
  if (types === undefined) return true;
  return kind === 'number' ? types.has('number') || types.has('integer') : types.has(kind);
}

export function list(values: Iterable<unknown>): string {
  return [...values].map((v) => (typeof v === 'string' ? v : canonicalJson(v))).join(', ');
}

export function quoteList(values: Iterable<unknown>): string {
  return [...values].map(canonicalJson).join(', ');
}

export interface Bound {
  value: number;
  exclusive: boolean;
  keyword: string;
}

export function lowerBound(s: Obj): Bound | undefined {
  const min = typeof s.minimum === 'number' ? { value: s.minimum, exclusive: false, keyword: 'minimum' } : undefined;
  const ex =
    typeof s.exclusiveMinimum === 'number'
      ? { value: s.exclusiveMinimum, exclusive: true, keyword: 'exclusiveMinimum' }
      : undefined;
  if (!min) return ex;
  if (!ex) return min;
  return ex.value >= min.value ? ex : min;
}

export function upperBound(s: Obj): Bound | undefined {
  const max = typeof s.maximum === 'number' ? { value: s.maximum, exclusive: false, keyword: 'maximum' } : undefined;
  const ex =
    typeof s.exclusiveMaximum === 'number'
      ? { value: s.exclusiveMaximum, exclusive: true, keyword: 'exclusiveMaximum' }
      : undefined;
  if (!max) return ex;
  if (!ex) return max;
  return ex.value <= max.value ? ex : max;
}

export function isMultiple(value: number, of: number): boolean {
  const r = value / of;
  return Math.abs(r - Math.round(r)) < 1e-9;
}

export function obj(value: unknown): Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : EMPTY;
}

export function regex(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
}

/** min/max pairs: the new minimum may only go down, the new maximum only up. */
export function counts(
  O: Obj,
  N: Obj,
  path: string,
  minKw: string,
  maxKw: string,
  what: string,
  unit: string,
  br: Report,
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
