/**
 * The RuleSource contract: every rule source (memory, etcd) must pass it. The factory
 * gives a started source plus ways to change what is stored, as an operator would.
 */
import type { AuthRule, RuleSet, RuleSource } from '@switchyard/sdk';
import { DEFAULT_RULES } from '@switchyard/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

export interface RuleSourceHarness {
  source: RuleSource;
  /** Store exactly these rules (others removed). */
  store(rules: AuthRule[]): Promise<void>;
  /** Try to store an invalid version of rule `id` (the source must keep the last good one). */
  storeInvalid(id: string): Promise<void>;
  cleanup(): Promise<void>;
}

async function until(source: RuleSource, check: (r: RuleSet) => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check(source.current())) {
    if (Date.now() > end) throw new Error(`rule set not as expected: ${JSON.stringify(source.current().rules)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const grant = (id: string, resource: string): AuthRule => ({ id, resource, scope: '*', access: 'granted' });

export function runRuleSourceContract(name: string, factory: () => Promise<RuleSourceHarness>): void {
  describe(`RuleSource contract: ${name}`, () => {
    let h: RuleSourceHarness;
    beforeEach(async () => {
      h = await factory();
    });
    afterEach(() => h.cleanup());

    it('serves the built-in default while no rule is stored', () => {
      expect(h.source.current().rules).toEqual(DEFAULT_RULES);
    });

    it('sees stored rules, tells subscribers, and goes back to the default when they are removed', async () => {
      const seen: string[][] = [];
      const off = h.source.subscribe((r) => seen.push(r.rules.map((x) => x.id).sort()));
      await h.store([grant('a', 'service:a.*'), grant('b', 'event:b.*')]);
      await until(h.source, (r) => r.rules.length === 2);
      expect(seen.at(-1)).toEqual(['a', 'b']);
      await h.store([]);
      await until(h.source, (r) => r.rules === DEFAULT_RULES || r.rules[0]?.id === 'default');
      expect(h.source.current().rules).toEqual(DEFAULT_RULES);
      off();
    });

    it('refuses an invalid rule and keeps its last good version', async () => {
      await h.store([grant('a', 'service:a.*')]);
      await until(h.source, (r) => r.rules.some((x) => x.id === 'a'));
      await h.storeInvalid('a');
      // A later valid change proves the invalid one was processed (and refused) first.
      await h.store([grant('a', 'service:a.*'), grant('z', 'service:z.*')]);
      await until(h.source, (r) => r.rules.some((x) => x.id === 'z'));
      expect(h.source.current().rules.find((x) => x.id === 'a')).toMatchObject({ resource: 'service:a.*' });
    });
  });
}
