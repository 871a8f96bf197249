import { validationError } from '@switchyard/broker';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { JsonSchemaObject, Violation } from './types.js';
import { toViolations } from './violations.js';

/**
 * A compiled schema. Built once when the schema is loaded or changes, then called per
 * payload; it never mutates the payload (no defaults, no coercion, nothing removed).
 */
export class SchemaValidator<T = unknown> {
  constructor(
    /** The schema's `$id`. */
    readonly id: string,
    readonly schema: JsonSchemaObject,
    /** sha-256 of the canonical JSON of `schema`. */
    readonly hash: string,
    private readonly fn: ValidateFunction,
    /** The published version, when the schema came from etcd. */
    readonly version?: number,
  ) {}

  /** Every violation in `data` (empty when valid). */
  validate(data: unknown): Violation[] {
    if (this.fn(data)) return [];
    return toViolations(this.fn.errors);
  }

  isValid(data: unknown): data is T {
    return this.fn(data) === true;
  }

  /** Throw INVALID_ARGUMENT (`validationError`) listing every violation, naming `what`. */
  assert(data: unknown, what = 'payload'): asserts data is T {
    const violations = this.validate(data);
    if (violations.length > 0) throw validationError(what, violations);
  }
}
