import { readFileSync } from 'node:fs';
import { CANONICAL_CODES, SPECIFIC_CODES } from '@switchyard/broker';
import { describe, expect, it } from 'vitest';

// The errors doc is the contract users code against: it must list exactly the codes the code has.
const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map<string, string[]>();
for (const line of doc.split('\n')) {
  const m = /^\| `([A-Z_]+)` \| (.*)$/.exec(line);
  if (m)
    documented.set(
      m[1]!,
      m[2]!.split('|').map((c) => c.trim()),
    );
}

describe('docs/errors.md', () => {
  it('documents every code and no stale one', () => {
    const codes = [...CANONICAL_CODES, ...Object.keys(SPECIFIC_CODES)].sort();
    expect([...documented.keys()].sort()).toEqual(codes);
  });

  it('states the canonical code each specific code refines', () => {
    for (const [code, canonical] of Object.entries(SPECIFIC_CODES)) {
      expect(documented.get(code)?.[0], code).toBe(`\`${canonical}\``);
    }
  });
});
