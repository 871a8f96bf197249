import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { schemaInvalidError } from './schema-errors.js';
import type { JsonSchemaObject, SchemaDocument, SchemaProblem, SchemaSnapshot } from './types.js';

export type ParsedSchema = { ok: true; document: SchemaDocument } | { ok: false; problem: SchemaProblem };

/**
 * Check that `value` can be a top-level schema: an object with an absolute `$id` (no
 * fragment). The `$id` is its address in the registry and the base for its `$ref`s.
 */
export function toSchemaDocument(value: unknown, origin: string, version?: number): ParsedSchema {
  const fail = (problem: string): ParsedSchema => ({ ok: false, problem: { file: origin, problem } });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('a schema file must hold a JSON object');
  }
  const schema = value as JsonSchemaObject;
  const id = schema.$id;
  if (id === undefined)
    return fail(
      'missing $id: every schema must say its address, e.g. "$id": "https://schemas.switchyard.dev/orders/order.create.request.json"',
    );
  if (typeof id !== 'string' || id === '') return fail('$id must be a non-empty string');
  let url: URL;
  try {
    url = new URL(id);
  } catch {
    return fail(`$id ${JSON.stringify(id)} is not an absolute URI`);
  }
  if (url.hash !== '' || id.endsWith('#')) {
    return { ok: false, problem: { file: origin, problem: `$id ${JSON.stringify(id)} must not have a fragment`, id } };
  }
  return { ok: true, document: version === undefined ? { id, schema, origin } : { id, schema, origin, version } };
}

/** Parse one schema file's text. */
export function parseSchemaText(text: string, origin: string, version?: number): ParsedSchema {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: { file: origin, problem: `not valid JSON: ${(err as Error).message}` } };
  }
  return toSchemaDocument(value, origin, version);
}

export interface LoadDirectoryOptions {
  /**
   * The id each file had last time it loaded, so that a file that has become unreadable is
   * still known by its id (a reader then keeps that id's last good version).
   */
  knownIds?: ReadonlyMap<string, string>;
}

/**
 * Read every `*.json` under `dir` (recursively, in a stable order). Files that cannot be
 * schemas — bad JSON, not an object, missing or bad `$id`, an `$id` two files share — are
 * reported, never thrown, so one call finds every broken file (only a directory that cannot
 * be read at all throws SCHEMA_INVALID). Compiling is separate.
 */
export async function loadSchemaDirectory(dir: string, options: LoadDirectoryOptions = {}): Promise<SchemaSnapshot> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch (err) {
    // Not a problem with a schema but with the whole source: nothing can be said about any id.
    throw schemaInvalidError([{ file: dir, problem: `cannot read the schema directory: ${(err as Error).message}` }]);
  }
  const files = entries
    .filter((e) => e.endsWith('.json'))
    .map((e) => join(dir, e))
    .sort();
  const documents: SchemaDocument[] = [];
  const problems: SchemaProblem[] = [];
  await Promise.all(
    files.map(async (file, i) => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        // A directory named *.json, or a file removed while we read: not a schema.
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EISDIR' || code === 'ENOENT') return;
        problems[i] = { file, problem: `cannot read: ${(err as Error).message}` };
        return;
      }
      const parsed = parseSchemaText(text, file);
      if (parsed.ok) documents[i] = parsed.document;
      else {
        const id = parsed.problem.id ?? options.knownIds?.get(file);
        problems[i] = id === undefined ? parsed.problem : { ...parsed.problem, id };
      }
    }),
  );
  const docs = documents.filter(Boolean);
  const found = problems.filter(Boolean);
  // An $id two files claim is ambiguous: neither is used (a reader keeps that id's last good version).
  const byId = new Map<string, SchemaDocument[]>();
  for (const d of docs) byId.set(d.id, [...(byId.get(d.id) ?? []), d]);
  const unique: SchemaDocument[] = [];
  for (const [id, list] of byId) {
    if (list.length === 1) {
      unique.push(list[0]!);
      continue;
    }
    for (const d of list) {
      const others = list.filter((o) => o !== d).map((o) => relative(dir, o.origin).split(sep).join('/'));
      found.push({ file: d.origin, problem: `duplicate $id ${JSON.stringify(id)}: also in ${others.join(', ')}`, id });
    }
  }
  return { documents: unique, problems: found.sort((a, b) => a.file.localeCompare(b.file)) };
}

/** Throw SCHEMA_INVALID listing every problem, if there are any. */
export function assertNoProblems(problems: readonly SchemaProblem[]): void {
  if (problems.length > 0) throw schemaInvalidError(problems);
}
