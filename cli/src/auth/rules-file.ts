import { InvalidArgumentError, type Violation } from '@switchyard/broker';
import { type AuthRule, checkRule } from '@switchyard/sdk';
import { parse as parseYaml } from 'yaml';

/** One rule of a rules file, valid, with where it came from. */
export interface DesiredRule {
  readonly id: string;
  /** The rule (the plan's document; named `route` because the routes plan is reused). */
  readonly route: AuthRule;
  readonly where: string;
}

/**
 * Parse and validate a whole rules file (YAML or JSON: a list, or `{ rules: [...] }`):
 * every rule against schemas/switchyard/auth-rule.json, ids unique. Throws
 * INVALID_ARGUMENT listing every invalid rule (`details.rules`), so nothing is applied
 * unless all of them are good.
 */
export function validateRulesFile(text: string, name: string): DesiredRule[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InvalidArgumentError(`${name} is not valid YAML/JSON: ${(err as Error).message}`, { cause: err });
  }
  let items: unknown[];
  if (doc === null || doc === undefined) items = [];
  else if (Array.isArray(doc)) items = doc;
  else if (typeof doc === 'object' && Array.isArray((doc as { rules?: unknown }).rules)) {
    items = (doc as { rules: unknown[] }).rules;
  } else {
    throw new InvalidArgumentError(`${name} must hold a list of rules or an object with a "rules" list`);
  }
  const valid: DesiredRule[] = [];
  const invalid: Array<{ where: string; id?: string; violations: Violation[] }> = [];
  const seen = new Map<string, string>();
  items.forEach((value, i) => {
    const rawId = (value as { id?: unknown } | null)?.id;
    const id = typeof rawId === 'string' ? rawId : undefined;
    const where = id === undefined ? `${name}[${i}]` : `${name}[${i}] (${id})`;
    const check = checkRule(value);
    const violations = check.ok ? [] : [...check.violations];
    if (id !== undefined && seen.has(id))
      violations.unshift({ pointer: '/id', message: `duplicates the id of ${seen.get(id)}` });
    else if (id !== undefined) seen.set(id, where);
    if (violations.length > 0 || !check.ok) invalid.push({ where, ...(id ? { id } : {}), violations });
    else valid.push({ id: check.rule.id, route: check.rule, where });
  });
  if (invalid.length > 0) {
    const n = invalid.length;
    throw new InvalidArgumentError(`${name} has ${n} invalid rule${n === 1 ? '' : 's'}; nothing was written`, {
      details: { rules: invalid },
    });
  }
  return valid;
}
