/**
 * `npx switchyard …` right after `npm install`: the bin npm links runs the CLI from its
 * sources (no build step), from any directory.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const linked = `${root}node_modules/.bin/switchyard`;

describe('the switchyard bin', () => {
  it('is linked by npm install to the launcher, which runs the sources when they are there', () => {
    const manifest = JSON.parse(readFileSync(`${root}cli/package.json`, 'utf8'));
    expect(manifest.bin).toEqual({ switchyard: './bin/switchyard.js' });
    accessSync(linked, constants.X_OK);
    expect(realpathSync(linked)).toBe(realpathSync(`${root}cli/bin/switchyard.js`));
    // dist/ is only the fallback of a published package (which ships no src/).
    const launcher = readFileSync(`${root}cli/bin/switchyard.js`, 'utf8');
    expect(launcher).toMatch(/existsSync\(sources\)/);
  });

  it('answers --version and --help from another directory', async () => {
    const version = await run(linked, ['--version'], { cwd: tmpdir() });
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(`${root}cli/package.json`, 'utf8')).version);
    const help = await run(linked, ['--help'], { cwd: tmpdir() });
    expect(help.stdout).toMatch(/routes/);
    expect(help.stdout).toMatch(/schemas/);
  }, 30_000);
});
