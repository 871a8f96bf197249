import { validationError } from '@switchyard/broker';
import type { SchemaRegistry } from '../schemas/schema-registry.js';

/**
 * Throw INVALID_ARGUMENT listing every violation of `payload` against the newest version
 * of schema `id` (SCHEMA_NOT_FOUND when no such schema is loaded). The validator is
 * compiled once per schema change; this is one map lookup and one call.
 */
export function checkPayload(schemas: SchemaRegistry, id: string, payload: unknown, what: string): void {
  const validator = schemas.get(id);
  if (validator.isValid(payload)) return;
  throw validationError(what, validator.validate(payload));
}
