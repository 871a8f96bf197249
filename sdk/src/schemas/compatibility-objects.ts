import { jsonEqual } from './canonical-json.js';
import {
  type CompareSub,
  counts,
  type Obj,
  obj,
  type Recursion,
  type Report,
  regex,
} from './compatibility-keywords.js';
import { pointerJoin } from './json-pointer.js';

/**
 * The object keywords of one schema pair: properties (with the open-object rule),
 * patternProperties, additionalProperties, unevaluatedProperties, required, dependencies,
 * propertyNames and the property counts.
 */
export function compareObject(r: Recursion, O: Obj, N: Obj, path: string, br: Report, sub: CompareSub): void {
  const oProps = obj(O.properties);
  const nProps = obj(N.properties);
  const oPatterns = obj(O.patternProperties);
  const nPatterns = obj(N.patternProperties);
  const matching = (patterns: Obj, name: string) => Object.keys(patterns).filter((p) => regex(p)?.test(name) ?? false);

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
  // comparisons (see Recursion.strict).
  const open = O.additionalProperties === undefined || O.additionalProperties === true;
  for (const name of Object.keys(nProps)) {
    if (open && !r.strict && !Object.hasOwn(oProps, name) && matching(oPatterns, name).length === 0) continue;
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
  counts(O, N, path, 'minProperties', 'maxProperties', 'objects', 'properties', br);
}
