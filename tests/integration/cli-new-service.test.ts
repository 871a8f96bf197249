/**
 * `switchyard new service` generates projects that work: the TypeScript one typechecks,
 * passes its own test (embedded mode) and registers and answers on real etcd + RabbitMQ;
 * the Python one compiles, passes its unit tests, and registers and answers too — both
 * driven with the CLI itself.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EXIT } from '@switchyard/cli';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { scratchDir } from '../fixtures/cli-files.js';
import { Capture, cli, REPO_ROOT } from '../fixtures/cli-run.js';
import { uniqueNamespace } from '../harness/servers.js';

const run = promisify(execFile);
/** Debian's interpreter: the one python3-pika is installed for. */
const PYTHON = '/usr/bin/python3';
const TSC = join(REPO_ROOT, 'node_modules/.bin/tsc');
const namespace = uniqueNamespace('cli-new');
const env = {
  SWITCHYARD_ETCD: inject('etcdEndpoint'),
  SWITCHYARD_AMQP: inject('amqpUrl'),
  SWITCHYARD_NAMESPACE: namespace,
};
const scratch = scratchDir('new');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  scratch.remove();
});

/** Start a generated service with the servers configured; resolves once its output matches `ready`. */
async function startService(command: string, args: string[], cwd: string, ready: RegExp) {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output = new Capture();
  child.stdout!.setEncoding('utf8').on('data', (s: string) => output.write(s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => output.write(s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await output.waitFor(ready, 20_000);
  return { child, output, exited };
}

/** `switchyard services NAME --json` until an instance is listed. */
async function registered(service: string) {
  for (let i = 0; i < 100; i++) {
    const r = await cli(['services', service, '--json'], { env });
    const found = JSON.parse(r.stdout).services[0];
    if (found) return found;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${service} never registered`);
}

describe('switchyard new service --lang ts', () => {
  const dir = join(scratch.dir, 'greeter');

  it('generates the project files', async () => {
    const r = await cli(['new', 'service', 'cli-greeter', '--dir', dir, '--json']);
    expect(r.code).toBe(EXIT.OK);
    expect(JSON.parse(r.stdout).files).toEqual([
      '.dockerignore',
      '.gitignore',
      'Dockerfile',
      'README.md',
      'package.json',
      'schemas/cli-greeter/cli-greeter.greet.request.json',
      'schemas/cli-greeter/cli-greeter.greet.response.json',
      'src/main.ts',
      'src/service.ts',
      'test/service.test.ts',
      'tsconfig.json',
    ]);
    // It refuses to write over a project.
    const again = await cli(['new', 'service', 'cli-greeter', '--dir', dir]);
    expect(again.code).toBe(EXIT.USAGE);
    expect(again.stderr).toMatch(/exists and is not empty/);
  });

  it('typechecks with tsc (resolving @switchyard/sdk from this repository)', async () => {
    // The generated tsconfig, plus the "source" condition: @switchyard/sdk is this repo's sources.
    writeFileSync(
      join(dir, 'tsconfig.check.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true, customConditions: ['source'] } }),
    );
    await expect(run(TSC, ['-p', 'tsconfig.check.json'], { cwd: dir })).resolves.toBeDefined();
  });

  it('passes its own test (embedded mode), and that test fails when the service is wrong', async () => {
    const test = () =>
      run(process.execPath, ['--conditions=source', '--import', 'tsx', '--test', 'test/service.test.ts'], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
      });
    const ok = await test();
    expect(ok.stdout).toMatch(/# pass 3\n# fail 0/);
    const source = join(dir, 'src/service.ts');
    const good = readFileSync(source, 'utf8');
    writeFileSync(source, good.replace('Hello, ', 'Bye, '));
    try {
      await expect(test()).rejects.toMatchObject({ stdout: expect.stringMatching(/# fail 1/) });
    } finally {
      writeFileSync(source, good);
    }
  });

  it('registers on real etcd and answers through RabbitMQ; SIGTERM deregisters it', async () => {
    const svc = await startService(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'src/main.ts'],
      dir,
      /"msg":"service started"/,
    );
    const found = await registered('cli-greeter');
    expect(found.instances[0]).toMatchObject({ version: '0.1.0', metadata: { lang: 'typescript' } });
    expect(Object.keys(found.instances[0].methods)).toEqual(['greet']);
    const reply = await cli(['call', 'cli-greeter.greet', '{"name":"Ada"}'], { env });
    expect(JSON.parse(reply.stdout)).toEqual({ message: 'Hello, Ada!' });
    const refused = await cli(['call', 'cli-greeter.greet', '{"name":""}'], { env });
    expect(refused.code).toBe(EXIT.FAILED);
    expect(JSON.parse(refused.stderr)).toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { violations: [{ pointer: '/name' }] },
    });
    svc.child.kill('SIGTERM');
    expect(await svc.exited).toBe(0);
    const after = await cli(['services', 'cli-greeter', '--json'], { env });
    expect(JSON.parse(after.stdout).services).toEqual([]);
  });
});

describe('switchyard new service --lang python', () => {
  const dir = join(scratch.dir, 'py');

  it('generates a project that compiles and passes its unit tests', async () => {
    const r = await cli(['new', 'service', 'cli-py-greeter', '--lang', 'python', '--dir', dir]);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain('created Python service cli-py-greeter');
    await run(PYTHON, ['-m', 'py_compile', 'service.py', 'test_service.py'], { cwd: dir });
    const tests = await run(PYTHON, ['-m', 'unittest', '-v'], { cwd: dir });
    expect(tests.stderr).toMatch(/Ran 3 tests[\s\S]*\nOK\n/);
  });

  it("registers through etcd's JSON gateway and answers through RabbitMQ; SIGTERM revokes it", async () => {
    const svc = await startService(PYTHON, ['service.py'], dir, /READY/);
    const found = await registered('cli-py-greeter');
    expect(found.instances[0]).toMatchObject({
      version: '0.1.0',
      metadata: { lang: 'python' },
      methods: {
        greet: {
          idempotent: true,
          request: 'https://schemas.switchyard.dev/cli-py-greeter/cli-py-greeter.greet.request.json',
        },
      },
    });
    const reply = await cli(['call', 'cli-py-greeter.greet', '{"name":"Grace"}'], { env });
    expect(JSON.parse(reply.stdout)).toEqual({ message: 'Hello, Grace!' });
    const refused = await cli(['call', 'cli-py-greeter.greet', '{"nom":"x"}'], { env });
    expect(refused.code).toBe(EXIT.FAILED);
    expect(JSON.parse(refused.stderr).details.violations.map((v: { pointer: string }) => v.pointer)).toEqual([
      '/name',
      '/nom',
    ]);
    // Its schemas are publishable as generated.
    expect((await cli(['schemas', 'check', join(dir, 'schemas')], { env })).code).toBe(EXIT.OK);
    svc.child.kill('SIGTERM');
    expect(await svc.exited).toBe(0);
    const after = await cli(['services', 'cli-py-greeter', '--json'], { env });
    expect(JSON.parse(after.stdout).services).toEqual([]);
  });
});
