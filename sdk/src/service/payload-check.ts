import { InternalError, validationError } from '@switchyard/broker';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import type { SchemaValidator } from '../schemas/validator.js';

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

/**
 * `reply` when it satisfies the target's response schema; otherwise INTERNAL, as the
 * server's own check would have answered, but with the violations in `details` (they were
 * found on this side, so nothing of the server's leaks). For `calls.validateReplies`.
 */
export function checkReply(validator: SchemaValidator, service: string, method: string, reply: unknown): unknown {
  if (validator.isValid(reply)) return reply;
  throw new InternalError(`${service}.${method} replied with a payload that fails its response schema`, {
    details: { service, method, schema: validator.id, violations: validator.validate(reply) },
  });
}
