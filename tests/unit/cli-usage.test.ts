/**
 * The command line itself, with no server: help with examples on every command, usage
 * errors (exit 2) that say what is wrong, `--json` errors as JSON on stderr only, and the
 * development token the dev gateway accepts.
 */
import { buildProgram, EXIT } from '@switchyard/cli';
import { DEV_JWT_SECRET_ENV, devJwtVerifierOptions, JwtVerifier } from '@switchyard/gateway';
import type { Command } from 'commander';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { cli, testIo } from '../fixtures/cli-run.js';

const SECRET = { [DEV_JWT_SECRET_ENV]: 'cli-usage-test-secret-0123456789abcdef' };

/** Every command path: ['routes', 'apply'], ['token'], ... */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands
    .filter((c) => c.name() !== 'help')
    .flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

describe('help', () => {
  const paths = commandPaths(buildProgram(testIo().io as never));

  it('covers every command of the issue', () => {
    const top = paths.filter((p) => p.length === 1).map((p) => p[0]);
    expect(top).toEqual([
      'gateway',
      'services',
      'routes',
      'schemas',
      'config',
      'call',
      'publish',
      'subscribe',
      'new',
      'token',
      'auth',
      'certs',
    ]);
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining([
        'routes apply',
        'routes list',
        'routes get',
        'schemas push',
        'schemas check',
        'schemas list',
        'new service',
        'auth serve',
        'auth accounts create',
        'auth accounts list',
        'auth accounts revoke',
        'auth token',
        'auth keys rotate',
        'auth rules apply',
        'auth rules list',
        'certs init',
        'certs issue',
      ]),
    );
  });

  it.each(paths.map((p) => [p.join(' '), p]))(
    '`%s --help` shows an example of itself and exits 0',
    async (_name, path) => {
      const r = await cli([...(path as string[]), '--help']);
      expect(r.code).toBe(EXIT.OK);
      expect(r.stdout).toContain('Examples:');
      expect(r.stdout).toContain(`switchyard ${(path as string[]).join(' ')}`);
      expect(r.stdout).toContain('--json'); // the global options are shown too
    },
  );

  it('the program help lists the exit codes', async () => {
    const r = await cli(['--help']);
    expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 operation failed .* 2 usage error,\s+3 etcd or RabbitMQ unreachable/);
  });
});

describe('usage errors exit 2 and say what is wrong', () => {
  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['routes', 'apply'], /required option '-f, --file <path>' not specified/],
    [['routes', 'list', '--bogus'], /unknown option '--bogus'/],
    [['routes', 'list'], /no etcd configured: pass --etcd .* or set SWITCHYARD_ETCD/],
    [['--etcd', 'not a url', 'routes', 'list'], /--etcd has "not a url"/],
    [['--namespace', 'a/b', 'services'], /--namespace must match/],
    [['routes', 'apply', '-f', 'no-such-file.yaml'], /cannot read the routes file no-such-file.yaml: ENOENT/],
    [['call', 'nodot', '{}'], /call target must be "service.method"/],
    [['call', 'svc.m', '{nope'], /the payload argument is not valid JSON/],
    [['call', 'svc.m', '{}', '-d', '{}'], /either as an argument or with -d, not both/],
    [['call', 'svc.m', '--timeout', 'soon'], /--timeout must be a duration/],
    [['call', 'svc.m', '{}'], /no RabbitMQ configured/],
    [['publish', 'orders.*', '{}'], /topic must be dot-separated words without wildcards/],
    [['subscribe', 'a.b', '--count', '0'], /--count must be an integer from 1/],
    [['new', 'service', 'Bad_Name'], /service name must be lower-case words/],
    [['new', 'service', 'ok', '--lang', 'cobol'], /--lang must be ts or python/],
    [['schemas', 'push', 'no-such-dir'], /no-such-dir is not a directory of schema files/],
    [['schemas', 'check', 'schemas'], /no etcd configured to check compatibility against/],
    [['token', '--sub', 'alice'], /SWITCHYARD_DEV_JWT_SECRET is not set/],
    [['gateway', '--port', 'http'], /--port must be a port from 0 to 65535/],
    [['gateway', '--port', '8088', '--admin-port', '8088'], /"adminPort" must differ from port/],
    [['gateway', '--log-level', 'loud'], /--log-level must be one of fatal, error/],
    [['schemas', 'get', 'https://x/y.json', 'latest'], /version must be an integer from 1/],
  ])('%j', async (argv, message) => {
    const r = await cli(argv as string[]);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stdout).toBe('');
  });

  it('with --json the error is the documented JSON body on stderr, and stdout stays empty', async () => {
    const r = await cli(['routes', 'list', '--json']);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr)).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/no etcd/) });
  });
});

describe('an unreachable server exits 3', () => {
  it('etcd that refuses connections', async () => {
    const r = await cli(['--etcd', 'http://127.0.0.1:1', 'routes', 'list']);
    expect(r.code).toBe(EXIT.UNREACHABLE);
    expect(r.stderr).toMatch(/etcd at http:\/\/127.0.0.1:1 is unreachable/);
  });
});

describe('token', () => {
  it('signs a development JWT that the dev gateway verifier accepts', async () => {
    const r = await cli(
      ['token', '--sub', 'alice', '--scope', 'orders:read', '--scope', 'orders:write', '--ttl', '15m'],
      {
        env: SECRET,
      },
    );
    expect(r.code).toBe(EXIT.OK);
    const token = r.stdout.trim();
    const verifier = new JwtVerifier(devJwtVerifierOptions(SECRET));
    try {
      await expect(verifier.verify(token)).resolves.toMatchObject({
        subject: 'alice',
        scopes: ['orders:read', 'orders:write'],
      });
      const claims = decodeJwt(token);
      expect(claims.exp! - claims.iat!).toBe(15 * 60);
      // A gateway with another secret refuses it.
      const other = new JwtVerifier(devJwtVerifierOptions({ [DEV_JWT_SECRET_ENV]: 'x'.repeat(40) }));
      await expect(other.verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      await other.close();
    } finally {
      await verifier.close();
    }
  });

  it('--json gives the token with its subject, scopes, expiry and extra claims', async () => {
    const r = await cli(
      ['token', '--sub', 'ci', '--ttl', '60', '--claim', 'tenant=acme', '--claim', 'level=3', '--json'],
      {
        env: SECRET,
      },
    );
    expect(r.code).toBe(EXIT.OK);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ sub: 'ci', scopes: [] });
    const claims = decodeJwt(out.token);
    expect(claims).toMatchObject({ sub: 'ci', tenant: 'acme', level: 3, iss: 'switchyard-dev', aud: 'switchyard' });
    expect(new Date(out.expiresAt).getTime()).toBe(claims.exp! * 1000);
  });

  it('refuses a scope with a space and a ttl that is not a span (exit 2)', async () => {
    for (const argv of [
      ['token', '--sub', 'a', '--scope', 'bad scope'],
      ['token', '--sub', 'a', '--ttl', 'soon'],
    ]) {
      const r = await cli(argv, { env: SECRET });
      expect(r.code).toBe(EXIT.USAGE);
      expect(r.stderr).toMatch(/scopes must be|ttl is not a valid time span/);
    }
  });
});
