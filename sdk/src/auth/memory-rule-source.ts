import { assertRule } from './rule-schema.js';
import { type AuthRule, RuleSet } from './rule-set.js';
import type { RuleSource } from './rule-source.js';

/** Rules set in code: the embedded default. `set()` validates like the etcd source does. */
export class MemoryRuleSource implements RuleSource {
  #rules: RuleSet;
  readonly #listeners = new Set<(rules: RuleSet) => void>();

  /** No rules (or an empty list) means the built-in default applies. */
  constructor(rules: readonly AuthRule[] = []) {
    this.#rules = MemoryRuleSource.build(rules);
  }

  private static build(rules: readonly AuthRule[]): RuleSet {
    const checked = rules.map((r, i) => assertRule(r, `rules[${i}]`));
    return checked.length === 0 ? RuleSet.defaults() : new RuleSet(checked);
  }

  async start(): Promise<void> {}

  current(): RuleSet {
    return this.#rules;
  }

  /** Replace every rule; throws INVALID_ARGUMENT (and keeps the old set) when one is invalid. */
  set(rules: readonly AuthRule[]): void {
    this.#rules = MemoryRuleSource.build(rules);
    for (const l of this.#listeners) l(this.#rules);
  }

  subscribe(listener: (rules: RuleSet) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
