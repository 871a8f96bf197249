import type { ErrorObject } from 'ajv/dist/2020.js';
import { pointerJoin } from './json-pointer.js';
import type { Violation } from './types.js';

/**
 * Turn ajv's errors into violations that read well: the pointer names the offending value
 * (for `required` the missing property, for `additionalProperties` the extra one) and the
 * message is plain words without ajv's jargon. Duplicates are dropped; the order is ajv's.
 */
export function toViolations(errors: readonly ErrorObject[] | null | undefined): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const err of errors ?? []) {
    // `if` only says "the then/else branch failed", and `propertyNames` only "a name is
    // invalid": the errors that say why are reported on their own.
    if (err.keyword === 'if' || err.keyword === 'propertyNames') continue;
    const v =
      err.propertyName === undefined
        ? { pointer: pointerOf(err), message: messageOf(err) }
        : { pointer: pointerJoin(err.instancePath, err.propertyName), message: `name ${messageOf(err)}` };
    const key = `${v.pointer}\u0000${v.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
  }
  return out;
}

function pointerOf(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
    case 'dependentRequired':
      return pointerJoin(err.instancePath, String(p.missingProperty));
    case 'additionalProperties':
      return pointerJoin(err.instancePath, String(p.additionalProperty));
    case 'unevaluatedProperties':
      return pointerJoin(err.instancePath, String(p.unevaluatedProperty));
    default:
      return err.instancePath;
  }
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function plural(n: unknown, word: string, many = `${word}s`): string {
  return `${String(n)} ${n === 1 ? word : many}`;
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function messageOf(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return 'is required';
    case 'dependentRequired':
      return `is required when ${show(p.property)} is present`;
    case 'additionalProperties':
    case 'unevaluatedProperties':
      return 'is not an allowed property';
    case 'type': {
      const types = Array.isArray(p.type) ? p.type : String(p.type).split(',');
      const words = types.map((t) => TYPE_WORDS[String(t)] ?? String(t));
      return `must be ${words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)}` : words[0]}`;
    }
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map(show).join(', ')}`;
    case 'const':
      return `must be exactly ${show(p.allowedValue)}`;
    case 'minimum':
      return `must be at least ${show(p.limit)}`;
    case 'exclusiveMinimum':
      return `must be greater than ${show(p.limit)}`;
    case 'maximum':
      return `must be at most ${show(p.limit)}`;
    case 'exclusiveMaximum':
      return `must be less than ${show(p.limit)}`;
    case 'multipleOf':
      return `must be a multiple of ${show(p.multipleOf)}`;
    case 'minLength':
      return `must be at least ${plural(p.limit, 'character')} long`;
    case 'maxLength':
      return `must be at most ${plural(p.limit, 'character')} long`;
    case 'minItems':
      return `must have at least ${plural(p.limit, 'item')}`;
    case 'maxItems':
      return `must have at most ${plural(p.limit, 'item')}`;
    case 'minProperties':
      return `must have at least ${plural(p.limit, 'property', 'properties')}`;
    case 'maxProperties':
      return `must have at most ${plural(p.limit, 'property', 'properties')}`;
    case 'uniqueItems':
      return `must not contain duplicates (items ${show(p.j)} and ${show(p.i)} are equal)`;
    case 'pattern':
      return `must match the pattern ${String(p.pattern)}`;
    case 'format':
      return `must be a valid ${String(p.format)}`;
    case 'contains':
      return p.maxContains === undefined
        ? `must contain at least ${plural(p.minContains ?? 1, 'matching item')}`
        : `must contain between ${show(p.minContains)} and ${show(p.maxContains)} matching items`;
    case 'oneOf':
      return Array.isArray(p.passingSchemas)
        ? 'must match exactly one of the allowed shapes, but matches more than one'
        : 'must match exactly one of the allowed shapes';
    case 'anyOf':
      return 'must match at least one of the allowed shapes';
    case 'not':
      return 'must not match the excluded shape';
    case 'false schema':
      return 'is not allowed';
    default:
      return err.message ?? `fails the "${err.keyword}" rule`;
  }
}
