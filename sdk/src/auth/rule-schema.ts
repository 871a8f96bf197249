import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InternalError, type Violation, validationError } from '@switchyard/broker';
import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { toViolations } from '../schemas/violations.js';
import type { AuthRule } from './rule-set.js';

/**
 * Rule validation against schemas/switchyard/auth-rule.json, the file operators read.
 * Compiled once, on first use, by a private ajv instance (the schema registry holds
 * services' schemas, not ours).
 */
export const AUTH_RULE_SCHEMA_FILE = fileURLToPath(
  new URL('../../../schemas/switchyard/auth-rule.json', import.meta.url),
);

export type RuleCheck = { ok: true; rule: AuthRule } | { ok: false; violations: Violation[] };

let validator: ValidateFunction | undefined;

function ruleValidator(): ValidateFunction {
  if (validator) return validator;
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(AUTH_RULE_SCHEMA_FILE, 'utf8'));
  } catch (err) {
    throw new InternalError(`cannot read the rule schema at ${AUTH_RULE_SCHEMA_FILE}`, { cause: err });
  }
  validator = new Ajv2020({ allErrors: true, strict: false }).compile(schema as object);
  return validator;
}

/** Validate a decoded rule without throwing; `expectedId` is the id its location claims. */
export function checkRule(value: unknown, expectedId?: string): RuleCheck {
  const validate = ruleValidator();
  if (!validate(value)) return { ok: false, violations: toViolations(validate.errors) };
  const rule = value as AuthRule;
  if (expectedId !== undefined && rule.id !== expectedId) {
    return {
      ok: false,
      violations: [{ pointer: '/id', message: `must equal the id in the rule's key ("${expectedId}")` }],
    };
  }
  return { ok: true, rule };
}

/** Validate a rule; throws INVALID_ARGUMENT listing every violation. */
export function assertRule(value: unknown, what = 'rule'): AuthRule {
  const r = checkRule(value);
  if (!r.ok) throw validationError(what, r.violations);
  return r.rule;
}
