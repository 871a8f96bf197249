/**
 * `switchyard auth ...` end to end on the real etcd: run the auth service, create, list and
 * revoke accounts, get a token, rotate keys (the running service switches), converge rules.
 */
import { randomBytes } from 'node:crypto';
import { EXIT } from '@switchyard/cli';
import { createEtcdClient, rulesPrefix } from '@switchyard/sdk';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { scratchDir } from '../fixtures/cli-files.js';
import { cli, startCli } from '../fixtures/cli-run.js';
import { freePort } from '../harness/ports.js';
import { uniqueNamespace } from '../harness/servers.js';

const endpoint = inject('etcdEndpoint');
const namespace = uniqueNamespace('cli-auth');
const masterKey = randomBytes(32).toString('base64');
const env = { SWITCHYARD_ETCD: endpoint, SWITCHYARD_NAMESPACE: namespace, SWITCHYARD_AUTH_MASTER_KEY: masterKey };
const files = scratchDir('auth-rules');
const etcd = createEtcdClient(endpoint);

afterAll(async () => {
  await etcd.delete().prefix(`/${namespace}/`);
  etcd.close();
  files.remove();
});

const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;

describe('switchyard auth', () => {
  it('accounts, tokens and key rotation against a running auth service', async () => {
    const port = await freePort();
    const server = startCli(['auth', 'serve'], {
      env: { ...env, SWITCHYARD_AUTH_PORT: String(port), SWITCHYARD_LOG_LEVEL: 'warn' },
    });
    await server.stderr.waitFor(/listening on (http:\/\/\S+);/);
    const url = `http://127.0.0.1:${port}`;
    try {
      const created = await cli(
        ['--json', 'auth', 'accounts', 'create', 'billing', '--scope', 'invoices:write', '--metadata', 'team=fin'],
        { env },
      );
      expect(created.code).toBe(EXIT.OK);
      const { account, secret } = JSON.parse(created.stdout) as {
        account: { id: string; scopes: string[] };
        secret: string;
      };
      expect(account).toMatchObject({
        id: 'billing',
        type: 'service',
        scopes: ['invoices:write'],
        metadata: { team: 'fin' },
      });
      const again = await cli(['auth', 'accounts', 'create', 'billing'], { env });
      expect(again.code).toBe(EXIT.FAILED);
      expect(again.stderr).toContain('ALREADY_EXISTS');

      const tokenRun = () =>
        cli(['auth', 'token', '--url', url, '--client-id', 'billing', '--client-secret-stdin'], { env, stdin: secret });
      const t1 = await tokenRun();
      expect(t1.code).toBe(EXIT.OK);
      const before = kidOf(t1.stdout.trim());

      const rotated = await cli(['--json', 'auth', 'keys', 'rotate'], { env });
      expect(rotated.code).toBe(EXIT.OK);
      const { kid } = JSON.parse(rotated.stdout) as { kid: string };
      // The running service sees the new key through its watch and signs with it.
      let after = before;
      for (let i = 0; i < 100 && after !== kid; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = kidOf((await tokenRun()).stdout.trim());
      }
      expect(after).toBe(kid);
      expect(after).not.toBe(before);
      const wrongKey = await cli(['auth', 'keys', 'rotate'], {
        env: { ...env, SWITCHYARD_AUTH_MASTER_KEY: randomBytes(32).toString('base64') },
      });
      expect(wrongKey.code).toBe(EXIT.FAILED);
      expect(wrongKey.stderr).toMatch(/cannot be decrypted/);

      const list = await cli(['--json', 'auth', 'accounts', 'list'], { env });
      expect(list.stdout).not.toContain(secret);
      expect(list.stdout).not.toContain('secretHash');
      expect((JSON.parse(list.stdout) as Array<{ id: string }>).map((a) => a.id)).toEqual(['billing']);

      expect((await cli(['auth', 'accounts', 'revoke', 'billing'], { env })).code).toBe(EXIT.OK);
      const refused = await tokenRun();
      expect(refused.code).toBe(EXIT.USAGE);
      expect(refused.stderr).toContain('invalid_client');
    } finally {
      server.stop();
      expect(await server.done).toBe(EXIT.OK);
    }
  }, 60_000);

  it('rules apply: validates all, dry-runs, converges, prunes; list shows evaluation order', async () => {
    const bad = files.write('bad.yaml', `- { id: x, resource: 'queue:y', scope: '*', access: granted }\n`);
    const invalid = await cli(['auth', 'rules', 'apply', '-f', bad], { env });
    expect(invalid.code).toBe(EXIT.FAILED);
    expect(invalid.stderr).toContain('INVALID_ARGUMENT');

    const v1 = files.write(
      'rules.yaml',
      `rules:
  - { id: rest, resource: '*', scope: '*', access: granted }
  - { id: no-admin, resource: 'service:*.admin', scope: '*', access: denied, priority: 10 }
`,
    );
    const dry = await cli(['auth', 'rules', 'apply', '-f', v1, '--dry-run'], { env });
    expect(dry.code).toBe(EXIT.OK);
    expect(dry.stdout).toContain('dry run: nothing was written');
    expect((await etcd.getAll().prefix(rulesPrefix(namespace)).keys()).length).toBe(0);
    expect((await cli(['auth', 'rules', 'apply', '-f', v1], { env })).code).toBe(EXIT.OK);
    const listed = JSON.parse((await cli(['--json', 'auth', 'rules', 'list'], { env })).stdout) as Array<{
      id: string;
    }>;
    expect(listed.map((r) => r.id)).toEqual(['no-admin', 'rest']);

    const v2 = files.write('rules2.yaml', `- { id: rest, resource: '*', scope: '*', access: granted }\n`);
    const kept = await cli(['auth', 'rules', 'apply', '-f', v2], { env });
    expect(kept.stdout).toContain('kept');
    const pruned = await cli(['--json', 'auth', 'rules', 'apply', '-f', v2, '--prune'], { env });
    expect(JSON.parse(pruned.stdout)).toMatchObject({ removed: ['no-admin'], unchanged: ['rest'] });
  });
});
