/**
 * The Python service template is real Python: the asset files under cli/templates/python/
 * compile as they are, every placeholder in them is one `switchyard new service` fills in,
 * and the project it generates compiles (and passes pyflakes, where pyflakes is installed).
 * No servers: tests/integration/cli-new-service.test.ts runs the generated service.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EXIT } from '@switchyard/cli';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, REPO_ROOT } from '../fixtures/cli-run.js';

const run = promisify(execFile);
/** Debian's interpreter, as in cli-new-service.test.ts. */
const PYTHON = '/usr/bin/python3';
const ASSETS = join(REPO_ROOT, 'cli/templates/python');
const PLACEHOLDER = /\{\{(\w+)\}\}/g;
/** The keys of TemplateNames (cli/src/templates/template-names.ts). */
const KNOWN = ['service', 'pascal', 'snake', 'schemaBase'];
const hasPyflakes = (() => {
  try {
    execFileSync(PYTHON, ['-m', 'pyflakes', '--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const scratch = mkdtempSync(join(tmpdir(), 'switchyard-py-template-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// Compile to a scratch prefix: nothing is written next to the asset or the generated files.
const pyCompile = (cwd: string, files: string[]) =>
  run(PYTHON, ['-X', `pycache_prefix=${join(scratch, 'pycache')}`, '-m', 'py_compile', ...files], { cwd });

describe('the Python service template', () => {
  const assets = readdirSync(ASSETS).filter((f) => f.endsWith('.py'));

  it('is shipped as .py files, which the CLI package includes', () => {
    expect(assets.sort()).toEqual(['service.py', 'test_service.py']);
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'cli/package.json'), 'utf8'));
    expect(manifest.files).toContain('templates');
  });

  it('compiles as it is, placeholders and all', async () => {
    await expect(pyCompile(ASSETS, assets)).resolves.toBeDefined();
  });

  it('uses only placeholders the CLI fills in', () => {
    const used = new Set(assets.flatMap((f) => [...readFileSync(join(ASSETS, f), 'utf8').matchAll(PLACEHOLDER)]));
    const names = [...used].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(KNOWN, `{{${name}}}`).toContain(name);
  });

  describe('the generated project', () => {
    const dir = join(scratch, 'order-history');

    it('has every placeholder filled in, and compiles', async () => {
      const r = await cli(['new', 'service', 'order-history', '--lang', 'python', '--dir', dir]);
      expect(r.code, r.stderr).toBe(EXIT.OK);
      const service = readFileSync(join(dir, 'service.py'), 'utf8');
      const test = readFileSync(join(dir, 'test_service.py'), 'utf8');
      for (const text of [service, test]) expect(text).not.toMatch(/\{\{|\}\}/);
      expect(service).toContain("SERVICE = 'order-history'");
      expect(service).toContain(
        "'request': 'https://schemas.switchyard.dev/order-history/order-history.greet.request.json'",
      );
      expect(test).toContain('Unit tests of the order-history handler');
      await expect(pyCompile(dir, ['service.py', 'test_service.py'])).resolves.toBeDefined();
    });

    // Skipped only where pyflakes is missing; .ci/run installs Debian's python3-pyflakes.
    it.skipIf(!hasPyflakes)('passes pyflakes', async () => {
      await expect(
        run(PYTHON, ['-m', 'pyflakes', 'service.py', 'test_service.py'], { cwd: dir }),
      ).resolves.toBeDefined();
    });
  });
});
