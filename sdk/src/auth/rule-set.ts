import type { Account } from './account.js';
import { ANY_ACCOUNT_SCOPE, PUBLIC_SCOPE } from './account.js';

/**
 * Access rules with Go Micro's `auth.Rule` semantics, evaluated in one place for the
 * gateway (`route:<id>`) and every SDK receiver (`service:<svc>.<method>`,
 * `event:<topic>`), so the same rule set gives the same decision at every hop.
 */
export type RuleAccess = 'granted' | 'denied';
export type ResourceType = 'service' | 'route' | 'event';

export interface AuthRule {
  /** Stable id (the etcd key's last segment). */
  id: string;
  /** `service:payments.charge`, `route:orders-api`, `event:orders.*`, `*`. `*` matches any run of characters. */
  resource: string;
  /** `''` anyone (even anonymous), `'*'` any authenticated account, else a scope the account must hold. */
  scope?: string;
  /** Instead of `scope`: the account id the rule is about. */
  account?: string;
  access: RuleAccess;
  /** Higher first. Default 0. */
  priority?: number;
  description?: string;
}

export interface AccessDecision {
  readonly access: RuleAccess;
  /** Id of the deciding rule; undefined when nothing matched (the default deny). */
  readonly rule: string | undefined;
}

/**
 * What applies when no rule is stored: any authenticated account may reach anything,
 * nobody anonymous may. Storing any rule replaces it (Go Micro's default rule).
 */
export const DEFAULT_RULES: readonly AuthRule[] = Object.freeze([
  Object.freeze({
    id: 'default',
    resource: '*',
    scope: ANY_ACCOUNT_SCOPE,
    access: 'granted',
    priority: 0,
    description: 'built-in: applies only while no rule is stored',
  } satisfies AuthRule),
]);

interface CompiledRule {
  readonly id: string;
  readonly type: string;
  readonly name: RegExp | undefined;
  readonly scope: string | undefined;
  readonly account: string | undefined;
  readonly access: RuleAccess;
  readonly priority: number;
}

/** `orders.*` → /^orders\..*$/; undefined for a bare `*` (matches everything without a regex). */
function namePattern(name: string): RegExp | undefined {
  if (name === '*') return undefined;
  const escaped = name.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

function compile(rule: AuthRule): CompiledRule {
  let type = '*';
  let name = '*';
  if (rule.resource !== '*') {
    const colon = rule.resource.indexOf(':');
    type = rule.resource.slice(0, colon);
    name = rule.resource.slice(colon + 1);
  }
  return {
    id: rule.id,
    type,
    name: namePattern(name),
    scope: rule.account === undefined ? (rule.scope ?? ANY_ACCOUNT_SCOPE) : undefined,
    account: rule.account,
    access: rule.access,
    priority: rule.priority ?? 0,
  };
}

function subjectMatches(r: CompiledRule, account: Account | undefined): boolean {
  if (r.account !== undefined) return account?.id === r.account;
  if (r.scope === PUBLIC_SCOPE) return true;
  if (account === undefined) return false;
  return r.scope === ANY_ACCOUNT_SCOPE || account.scopes.includes(r.scope!);
}

/**
 * An immutable, compiled rule set. Rules are ordered once: priority descending, then
 * `denied` before `granted` (a deny is never shadowed by an equal grant), then id.
 */
export class RuleSet {
  readonly rules: readonly AuthRule[];
  readonly #compiled: readonly CompiledRule[];

  /** Rules must already be valid (checkRule / the rule sources validate them). */
  constructor(rules: readonly AuthRule[]) {
    this.rules = Object.freeze(rules.map((r) => Object.freeze({ ...r })));
    const compiled = this.rules.map(compile);
    compiled.sort(
      (a, b) =>
        b.priority - a.priority ||
        (a.access === b.access ? 0 : a.access === 'denied' ? -1 : 1) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    this.#compiled = Object.freeze(compiled);
  }

  /** The built-in default (see DEFAULT_RULES). */
  static defaults(): RuleSet {
    return new RuleSet(DEFAULT_RULES);
  }

  /** May `account` (undefined: anonymous) reach `type:name`? */
  verify(account: Account | undefined, type: ResourceType, name: string): AccessDecision {
    for (const r of this.#compiled) {
      if (r.type !== '*' && r.type !== type) continue;
      if (r.name !== undefined && !r.name.test(name)) continue;
      if (!subjectMatches(r, account)) continue;
      return { access: r.access, rule: r.id };
    }
    return { access: 'denied', rule: undefined };
  }
}
