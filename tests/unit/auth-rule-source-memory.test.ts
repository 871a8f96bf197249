import { type AuthRule, MemoryRuleSource } from '@switchyard/sdk';
import { runRuleSourceContract } from '../contract/rule-source.contract.js';

runRuleSourceContract('memory', async () => {
  const source = new MemoryRuleSource();
  await source.start();
  return {
    source,
    async store(rules) {
      source.set(rules);
    },
    async storeInvalid(id) {
      const bad = [...source.current().rules, { id, resource: 'nope', access: 'granted' } as AuthRule];
      try {
        source.set(bad);
      } catch {
        // Refused, as the contract wants: the last good set stays.
      }
    },
    cleanup: () => source.close(),
  };
});
