import { validationError } from '@switchyard/broker';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';

/**
 * Compile a JSON Schema once into a `(payload) => void` that throws INVALID_ARGUMENT with
 * every violation — the shape MethodDefinition.validateRequest/validateResponse and
 * SubscribeOptions.validate expect. Same ajv settings as the SDK: 2020-12, all errors,
 * nothing that mutates the payload.
 */
export function compileValidator(schema: object, what: string): (payload: unknown) => void {
  const ajv = new Ajv2020({ allErrors: true, strict: true, coerceTypes: false, useDefaults: false });
  const fn = ajv.compile(schema);
  return (payload) => {
    if (!fn(payload)) throw validationError(what, toViolations(fn.errors ?? []));
  };
}

function toViolations(errors: readonly ErrorObject[]) {
  return errors.map((e) => ({ pointer: e.instancePath, message: e.message ?? e.keyword }));
}
