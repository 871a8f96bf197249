/**
 * docs/cli.md is the reference of the command: it must document every exit code the CLI
 * uses (and no other), every command and every option, so it cannot drift from the code.
 */
import { readFileSync } from 'node:fs';
import { buildProgram, EXIT } from '@switchyard/cli';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, testIo } from '../fixtures/cli-run.js';

const doc = readFileSync(`${REPO_ROOT}/docs/cli.md`, 'utf8');
const program = buildProgram(testIo().io as never);

function commands(cmd: Command, prefix: string[] = []): Array<{ path: string; cmd: Command }> {
  return cmd.commands
    .filter((c) => c.name() !== 'help')
    .flatMap((c) => {
      const path = [...prefix, c.name()];
      return [{ path: path.join(' '), cmd: c }, ...commands(c, path)];
    });
}

describe('docs/cli.md', () => {
  it('lists exactly the exit codes the CLI uses', () => {
    const table = doc.slice(doc.indexOf('| exit | meaning |'));
    const documented = [...table.matchAll(/^\| `(\d+)` \|/gm)].map((m) => Number(m[1]));
    expect(documented.sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });

  it('documents every command', () => {
    const missing = commands(program)
      .map((c) => c.path)
      .filter((path) => !doc.includes(`\`${path}`) && !doc.includes(`switchyard ${path}`));
    expect(missing).toEqual([]);
  });

  it('documents every option of every command, and the global ones', () => {
    const options = [
      ...program.options.map((o) => ({ path: '(global)', flag: o.long! })),
      ...commands(program).flatMap((c) => c.cmd.options.map((o) => ({ path: c.path, flag: o.long! }))),
    ].filter((o) => o.flag !== '--version');
    const missing = options.filter((o) => !doc.includes(o.flag)).map((o) => `${o.path} ${o.flag}`);
    expect(missing).toEqual([]);
  });
});
