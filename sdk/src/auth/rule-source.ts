import type { RuleSet } from './rule-set.js';

/**
 * Where the access rules come from. Two implementations live side by side:
 * `EtcdRuleSource` (keys `/<ns>/auth/rules/<id>`, watched: the real path) and
 * `MemoryRuleSource` (set in code: the embedded default and unit tests). Both hold the
 * last good rule set: a rule that fails its schema is logged and skipped (its previous
 * version, if any, stays), and an unreachable etcd keeps the set it had.
 * tests/contract/rule-source.contract.ts runs against both.
 */
export interface RuleSource {
  /** Read the rules and start watching. Resolves once the first set is in. Idempotent. */
  start(): Promise<void>;
  /** The rule set in force right now (the built-in default while none is stored). */
  current(): RuleSet;
  /** Called after every change with the new set. Returns an unsubscribe function. */
  subscribe(listener: (rules: RuleSet) => void): () => void;
  close(): Promise<void>;
}

/** The etcd key prefix of a namespace's rules. */
export function rulesPrefix(namespace: string): string {
  return `/${namespace}/auth/rules/`;
}

export function ruleKey(namespace: string, id: string): string {
  return `${rulesPrefix(namespace)}${id}`;
}
