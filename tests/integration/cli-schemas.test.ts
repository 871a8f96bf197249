/**
 * `switchyard schemas` against a real etcd: push publishes (all or nothing), a change that
 * breaks existing payloads is refused with the breaks in words and exit 1, --force
 * publishes it anyway, --dry-run and `check` run every check and write nothing, and
 * `check --offline` needs no server.
 */
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '@switchyard/cli';
import { createEtcdClient } from '@switchyard/sdk';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { scratchDir } from '../fixtures/cli-files.js';
import { cli, REPO_ROOT } from '../fixtures/cli-run.js';
import { uniqueNamespace } from '../harness/servers.js';

const endpoint = inject('etcdEndpoint');
const namespace = uniqueNamespace('cli-schemas');
const env = { SWITCHYARD_ETCD: endpoint, SWITCHYARD_NAMESPACE: namespace };
const etcd = createEtcdClient(endpoint);
const files = scratchDir('schemas');
const dir = join(files.dir, 'schemas');
cpSync(join(REPO_ROOT, 'schemas'), dir, { recursive: true });
const LINE_ITEM = 'https://schemas.switchyard.dev/orders/line-item.json';
/** The repository's schema files, counted so that a new schema does not break the counts below. */
const COUNT = readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.json')).length;

/** Every key and value under the namespace's schemas. */
async function stored() {
  return etcd.getAll().prefix(`/${namespace}/schemas/`).strings();
}

interface LineItemSchema {
  properties: Record<string, Record<string, unknown>> & { quantity: { maximum: number } };
}

function editLineItem(edit: (schema: LineItemSchema) => void): void {
  const path = join(dir, 'orders/line-item.json');
  const schema = JSON.parse(readFileSync(path, 'utf8')) as LineItemSchema;
  edit(schema);
  files.write('schemas/orders/line-item.json', `${JSON.stringify(schema, null, 2)}\n`);
}

afterAll(async () => {
  await etcd.delete().prefix(`/${namespace}/`).exec();
  etcd.close();
  files.remove();
});

describe('switchyard schemas', () => {
  it('check --offline validates a directory without any server', async () => {
    const r = await cli(['schemas', 'check', dir, '--offline']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(new RegExp(`^${COUNT} schemas load and compile \\(offline`));
  });

  it('push --dry-run reports the versions it would publish and writes nothing', async () => {
    const r = await cli(['schemas', 'push', dir, '--dry-run'], { env });
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(new RegExp(`would publish\\s+v1\\s+${LINE_ITEM}`));
    expect(r.stdout).toContain(`${COUNT} schemas: ${COUNT} to publish, 0 unchanged`);
    expect(await stored()).toEqual({});
  });

  it('push publishes every schema, and list shows them', async () => {
    const r = await cli(['schemas', 'push', dir], { env });
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain(`${COUNT} schemas: ${COUNT} published, 0 unchanged`);
    const list = await cli(['schemas', 'list', '--json'], { env });
    const items = JSON.parse(list.stdout) as Array<{ id: string; version: number; forced: boolean }>;
    expect(items).toHaveLength(COUNT);
    expect(items.map((s) => s.id)).toEqual(expect.arrayContaining(['switchyard:route', 'switchyard:auth-rule']));
    expect(items.find((s) => s.id === LINE_ITEM)).toMatchObject({ version: 1, forced: false });
    const table = await cli(['schemas', 'list'], { env });
    expect(table.stdout).toMatch(/^ID\s+VERSION\s+PUBLISHED\s+FORCED$/m);
    // Pushing the same files again publishes nothing.
    const again = await cli(['schemas', 'push', dir, '--json'], { env });
    expect(JSON.parse(again.stdout).results.every((x: { status: string }) => x.status === 'unchanged')).toBe(true);
  });

  it('a compatible change passes check and publishes a new version', async () => {
    editLineItem((s) => {
      s.properties.note = { type: 'string' }; // a new optional field breaks nobody
    });
    const check = await cli(['schemas', 'check', dir], { env });
    expect(check.code).toBe(EXIT.OK);
    expect(check.stdout).toMatch(new RegExp(`would publish\\s+v2\\s+${LINE_ITEM}`));
    const push = await cli(['schemas', 'push', dir], { env });
    expect(push.stdout).toMatch(new RegExp(`published\\s+v2\\s+${LINE_ITEM}`));
  });

  it('an incompatible change is refused (exit 1) with the breaks in words, and nothing is written', async () => {
    editLineItem((s) => {
      s.properties.quantity.maximum = 10; // was 1000: quantities 11-1000 would be refused
    });
    const before = await stored();
    for (const argv of [
      ['schemas', 'check', dir],
      ['schemas', 'push', dir],
      ['schemas', 'push', dir, '--dry-run'],
    ]) {
      const r = await cli(argv, { env });
      expect(r.code, argv.join(' ')).toBe(EXIT.FAILED);
      expect(r.stderr).toContain('would break payloads that are valid today [SCHEMA_INCOMPATIBLE]');
      expect(r.stderr).toMatch(/\/properties\/quantity\/maximum: upper bound narrowed from <= 1000 to <= 10/);
      expect(r.stderr).toContain(
        'hint: keep the change backward compatible (docs/schemas.md), or publish anyway with --force',
      );
    }
    const json = await cli(['schemas', 'push', dir, '--json'], { env });
    const body = JSON.parse(json.stderr);
    expect(body.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(body.details.breaks.map((b: { id: string }) => b.id)).toContain(LINE_ITEM);
    expect(await stored()).toEqual(before);
  });

  it('--force publishes the incompatible version and records that it was forced', async () => {
    const r = await cli(['schemas', 'push', dir, '--force'], { env });
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(new RegExp(`published \\(forced\\)\\s+v3\\s+${LINE_ITEM}`));
    expect(r.stdout).toMatch(/forced break in .*line-item\.json \/properties\/quantity\/maximum/);
    const got = await cli(['schemas', 'get', LINE_ITEM, '--json'], { env });
    expect(JSON.parse(got.stdout)).toMatchObject({ version: 3, forced: true });
    const v1 = await cli(['schemas', 'get', LINE_ITEM, '1'], { env });
    expect(JSON.parse(v1.stdout).properties.quantity.maximum).toBe(1000);
  });

  it('a broken schema file fails check and push with the file and the problem (exit 1)', async () => {
    files.write('schemas/broken.json', '{"$id": "https://schemas.switchyard.dev/broken.json", "type": "objekt"}');
    for (const argv of [
      ['schemas', 'check', dir, '--offline'],
      ['schemas', 'push', dir],
    ]) {
      const r = await cli(argv, { env });
      expect(r.code).toBe(EXIT.FAILED);
      expect(r.stderr).toMatch(/broken\.json is broken: not a valid JSON Schema 2020-12.*\[SCHEMA_INVALID\]/);
    }
    rmSync(join(dir, 'broken.json'));
  });

  it('check without --offline exits 3 with a hint when etcd is unreachable', async () => {
    const r = await cli(['schemas', 'check', dir], { env: { SWITCHYARD_ETCD: 'http://127.0.0.1:1' } });
    expect(r.code).toBe(EXIT.UNREACHABLE);
    expect(r.stderr).toContain('hint: add --offline to check only that the schemas load and compile');
  });
});
