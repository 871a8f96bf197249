import { InvalidOptionsError } from '@switchyard/broker';
import { PathPattern } from './path-pattern.js';
import { isScopeToken } from './scopes.js';

/** One access rule of a route (see docs/auth.md, "Access rules"). */
export interface AccessRule {
  /** Path pattern: literal segments, `:param` (one segment), `*` (one segment; as the last, the rest). */
  resource: string;
  /** HTTP methods (any case); default all. A rule naming GET also matches HEAD. */
  methods?: readonly string[];
  /** Scope(s) the caller must have for the rule to match; all of them when several. */
  scope?: string | readonly string[];
  effect: 'allow' | 'deny';
  /** Higher is evaluated first. Default 0. At equal priority deny comes first, then declaration order. */
  priority?: number;
}

interface CompiledRule {
  readonly index: number;
  readonly pattern: PathPattern;
  readonly methods: ReadonlySet<string> | undefined;
  readonly scopes: readonly string[];
  readonly effect: 'allow' | 'deny';
  readonly priority: number;
}

export interface AccessDecision {
  readonly effect: 'allow' | 'deny';
  /** Index (in the configured list) of the rule that decided; undefined for the default deny. */
  readonly rule: number | undefined;
  /** When denied: scopes of allow rules that matched all but their scope condition. */
  readonly wouldAllowWith: readonly string[];
}

const METHOD = /^[A-Z]+$/;

function invalid(option: string, message: string): never {
  throw new InvalidOptionsError(`${option} ${message}`, { details: { option } });
}

function compileRule(rule: AccessRule, index: number, option: string): CompiledRule {
  const at = `${option}[${index}]`;
  if (typeof rule !== 'object' || rule === null) invalid(at, 'must be an object');
  if (rule.effect !== 'allow' && rule.effect !== 'deny') invalid(`${at}.effect`, 'must be "allow" or "deny"');
  const priority = rule.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isFinite(priority)) invalid(`${at}.priority`, 'must be a finite number');
  let methods: Set<string> | undefined;
  if (rule.methods !== undefined) {
    if (!Array.isArray(rule.methods) || rule.methods.length === 0)
      invalid(`${at}.methods`, 'must be a non-empty array');
    methods = new Set();
    for (const m of rule.methods) {
      const up = typeof m === 'string' ? m.toUpperCase() : '';
      if (!METHOD.test(up)) invalid(`${at}.methods`, `contains an invalid method ${JSON.stringify(m)}`);
      methods.add(up);
    }
    // HEAD is GET without a body: a deny on GET must not be bypassable with HEAD.
    if (methods.has('GET')) methods.add('HEAD');
  }
  const scopes = rule.scope === undefined ? [] : typeof rule.scope === 'string' ? [rule.scope] : rule.scope;
  if (!Array.isArray(scopes) || (rule.scope !== undefined && scopes.length === 0) || !scopes.every(isScopeToken)) {
    invalid(`${at}.scope`, 'must be a scope or a non-empty array of scopes (no spaces or quotes)');
  }
  return Object.freeze({
    index,
    pattern: new PathPattern(rule.resource, `${at}.resource`),
    methods,
    scopes: Object.freeze([...scopes]),
    effect: rule.effect,
    priority,
  });
}

/**
 * A route's ordered access rules, compiled once. Evaluated highest priority first; the
 * first rule whose resource, method and scope condition all match decides. When no rule
 * matches the answer is deny: a route with rules allows only what a rule allows.
 */
export class AccessRules {
  readonly size: number;
  readonly #rules: readonly CompiledRule[];

  constructor(rules: readonly AccessRule[], option = 'rules') {
    if (!Array.isArray(rules)) invalid(option, 'must be an array');
    const compiled = rules.map((r, i) => compileRule(r, i, option));
    compiled.sort(
      (a, b) =>
        b.priority - a.priority || (a.effect === b.effect ? 0 : a.effect === 'deny' ? -1 : 1) || a.index - b.index,
    );
    this.#rules = Object.freeze(compiled);
    this.size = compiled.length;
  }

  /**
   * Decide for a request. `segments` from pathSegments (undefined: unmatchable path, so
   * the default deny applies); `method` upper-case; `scopes` the caller's scopes.
   */
  evaluate(segments: readonly string[] | undefined, method: string, scopes: readonly string[]): AccessDecision {
    const hints: string[] = [];
    if (segments !== undefined) {
      for (const r of this.#rules) {
        if (r.methods !== undefined && !r.methods.has(method)) continue;
        if (!r.pattern.matches(segments)) continue;
        if (!r.scopes.every((s) => scopes.includes(s))) {
          if (r.effect === 'allow') for (const s of r.scopes) if (!hints.includes(s)) hints.push(s);
          continue;
        }
        return { effect: r.effect, rule: r.index, wouldAllowWith: r.effect === 'deny' ? hints : [] };
      }
    }
    return { effect: 'deny', rule: undefined, wouldAllowWith: hints };
  }
}
