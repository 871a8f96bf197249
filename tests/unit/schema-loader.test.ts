import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import {
  checkCompatibility,
  compileSchemas,
  DirectorySchemaSource,
  isSwitchyardError,
  JSON_SCHEMA_2020_12,
  loadSchemaDirectory,
  SchemaRegistry,
} from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const shipped = join(root, 'schemas');
const broken = join(root, 'tests/fixtures/schemas/broken');
const BASE = 'https://schemas.switchyard.dev/';

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(dir, f));
}

describe('shipped schemas (schemas/)', () => {
  it("all load and compile, and each payload schema's $id is the base URL plus its path under schemas/", async () => {
    const snapshot = await loadSchemaDirectory(shipped);
    expect(snapshot.problems).toEqual([]);
    const files = jsonFiles(shipped);
    expect(snapshot.documents).toHaveLength(files.length);
    for (const doc of snapshot.documents) {
      expect(doc.schema.$schema).toBe(JSON_SCHEMA_2020_12);
      const path = relative(shipped, doc.origin).split('\\').join('/');
      // schemas/switchyard/ holds the platform's own config schemas (e.g. the gateway's
      // route, `switchyard:route`); the convention is for payload schemas.
      if (!path.startsWith('switchyard/')) expect(doc.id).toBe(BASE + path);
    }
    const compiled = compileSchemas(snapshot.documents);
    expect(compiled.problems).toEqual([]);
    expect([...compiled.validators.keys()].sort()).toEqual(snapshot.documents.map((d) => d.id).sort());
  });

  it('cover the demo domain and share definitions across files with $ref', async () => {
    const { documents } = await loadSchemaDirectory(shipped);
    const ids = documents.map((d) => d.id);
    for (const name of [
      'orders/order.create.request.json',
      'orders/order.create.response.json',
      'orders/order.created.event.json',
      'payments/payment.charge.request.json',
      'payments/payment.charge.response.json',
      'notifications/notification.send.request.json',
      'common/money.json',
    ]) {
      expect(ids).toContain(BASE + name);
    }
    const text = readFileSync(join(shipped, 'orders/order.create.response.json'), 'utf8');
    expect(text).toContain('"$ref": "../common/money.json"');
  });

  it('accept their own examples', async () => {
    const { documents } = await loadSchemaDirectory(shipped);
    const { validators } = compileSchemas(documents);
    let checked = 0;
    for (const doc of documents) {
      for (const example of (doc.schema.examples as unknown[] | undefined) ?? []) {
        expect(validators.get(doc.id)!.validate(example), doc.id).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });

  it('are each compatible with themselves when every $ref is resolved', async () => {
    const { documents } = await loadSchemaDirectory(shipped);
    const byId = new Map(documents.map((d) => [d.id, d.schema]));
    for (const doc of documents) {
      expect(checkCompatibility(doc.schema, structuredClone(doc.schema), { resolve: (id) => byId.get(id) })).toEqual(
        [],
      );
    }
  });
});

describe('broken schema files', () => {
  it('loading reports every file that cannot be a schema, naming the file and the problem', async () => {
    const snapshot = await loadSchemaDirectory(broken);
    const byFile = Object.fromEntries(snapshot.problems.map((p) => [relative(broken, p.file), p.problem]));
    expect(Object.keys(byFile).sort()).toEqual([
      'array.json',
      'bad-json.json',
      'dup-a.json',
      'missing-id.json',
      'nested/dup-b.json',
    ]);
    expect(byFile['bad-json.json']).toMatch(/not valid JSON/);
    expect(byFile['array.json']).toMatch(/JSON object/);
    expect(byFile['missing-id.json']).toMatch(/missing \$id/);
    expect(byFile['dup-a.json']).toMatch(/duplicate \$id .* also in nested\/dup-b.json/);
    expect(byFile['nested/dup-b.json']).toMatch(/duplicate \$id .* also in dup-a.json/);
  });

  it('compiling reports every schema that is not valid 2020-12 or does not resolve', async () => {
    const { documents } = await loadSchemaDirectory(broken);
    const { problems, validators } = compileSchemas(documents);
    const byFile = Object.fromEntries(problems.map((p) => [relative(broken, p.file), p.problem]));
    expect(Object.keys(byFile).sort()).toEqual([
      'draft-07.json',
      'not-a-schema.json',
      'unknown-format.json',
      'unknown-keyword.json',
      'unresolved-ref.json',
    ]);
    expect(byFile['not-a-schema.json']).toMatch(/not a valid JSON Schema 2020-12: \/type must be one of/);
    expect(byFile['unresolved-ref.json']).toMatch(
      /\$ref to "https:\/\/schemas.test\/fixtures\/money.json" cannot be resolved: no schema has \$id/,
    );
    expect(byFile['unknown-keyword.json']).toMatch(/unknown keyword: "minLenght"/);
    expect(byFile['unknown-format.json']).toMatch(/unknown format "emial"/);
    expect(byFile['draft-07.json']).toMatch(/only JSON Schema 2020-12/);
    expect([...validators.keys()]).toEqual(['https://schemas.test/fixtures/good.json']);
  });

  it('a registry on that directory refuses to start and names all ten broken files', async () => {
    const registry = new SchemaRegistry({ source: new DirectorySchemaSource({ dir: broken }) });
    const err = await registry.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSwitchyardError(err, 'SCHEMA_INVALID')).toBe(true);
    const details = (err as { details: { file: string; problem: string; problems: Array<{ file: string }> } }).details;
    expect(details.problems.map((p) => relative(broken, p.file)).sort()).toHaveLength(10);
    expect(typeof details.file).toBe('string');
    expect(typeof details.problem).toBe('string');
    expect((err as Error).message).toMatch(/^10 schemas are broken: /);
  });

  it('the same registry starts when told to tolerate them, serving the one good schema', async () => {
    const invalid: string[] = [];
    const registry = new SchemaRegistry({
      source: new DirectorySchemaSource({ dir: broken }),
      tolerateBrokenAtStart: true,
    });
    registry.on('invalid', (e) => invalid.push(String(e.details?.file)));
    await registry.start();
    expect(registry.ids()).toEqual(['https://schemas.test/fixtures/good.json']);
    expect(invalid).toHaveLength(10);
    await registry.close();
  });

  it('a directory that cannot be read is SCHEMA_INVALID naming it', async () => {
    const dir = join(broken, 'no-such-dir');
    await expect(loadSchemaDirectory(dir)).rejects.toMatchObject({ code: 'SCHEMA_INVALID', details: { file: dir } });
  });
});
