import { InvalidOptionsError } from '@switchyard/broker';
import { toSchemaDocument } from './schema-loader.js';
import type { Break, JsonSchemaObject, SchemaDocument, SchemaProblem } from './types.js';

/**
 * Key layout of published schemas in etcd (any language may read it):
 *
 *   /<namespace>/schemas/latest/<encodeURIComponent($id)>              the latest version's record
 *   /<namespace>/schemas/history/<encodeURIComponent($id)>/<00000001>  every version's record
 *
 * A record is JSON: `{ id, version, hash, publishedAt, forced, breaks?, schema }`. The latest
 * key holds a full copy (not just a version number) so a reader needs one range read and
 * one watch on `latest/`, and never sees a version whose body it has not got yet. Both keys
 * are written in one transaction that also checks nobody published in between.
 */
export const DEFAULT_SCHEMA_NAMESPACE = 'switchyard';
export const SCHEMA_NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Version numbers are zero-padded so keys sort in version order. */
const VERSION_DIGITS = 8;

export function checkNamespace(namespace: unknown, option = 'namespace'): string {
  if (typeof namespace !== 'string' || !SCHEMA_NAMESPACE_PATTERN.test(namespace)) {
    throw new InvalidOptionsError(
      `${option} must match ${SCHEMA_NAMESPACE_PATTERN} (letters, digits, '.', '_', '-'), got ${JSON.stringify(namespace)}`,
    );
  }
  return namespace;
}

export function latestPrefix(namespace: string): string {
  return `/${namespace}/schemas/latest/`;
}

export function latestKey(namespace: string, id: string): string {
  return `${latestPrefix(namespace)}${encodeURIComponent(id)}`;
}

export function historyPrefix(namespace: string, id: string): string {
  return `/${namespace}/schemas/history/${encodeURIComponent(id)}/`;
}

export function historyKey(namespace: string, id: string, version: number): string {
  return `${historyPrefix(namespace, id)}${String(version).padStart(VERSION_DIGITS, '0')}`;
}

/** One published version of a schema. */
export interface SchemaRecord {
  id: string;
  version: number;
  /** sha-256 of the canonical JSON of `schema`. */
  hash: string;
  /** ISO 8601. */
  publishedAt: string;
  /** Published with `force` over these breaks. */
  forced: boolean;
  breaks?: Break[];
  schema: JsonSchemaObject;
}

export type DecodedRecord =
  | { ok: true; record: SchemaRecord; document: SchemaDocument }
  | { ok: false; problem: SchemaProblem };

/** The id a `latest/` key is for, or undefined when the key is not in the layout. */
export function idOfLatestKey(namespace: string, key: string): string | undefined {
  const prefix = latestPrefix(namespace);
  if (!key.startsWith(prefix)) return undefined;
  try {
    const id = decodeURIComponent(key.slice(prefix.length));
    return id === '' ? undefined : id;
  } catch {
    return undefined;
  }
}

/** Decode a stored record; anything a foreign writer got wrong is a problem naming the key. */
export function decodeRecord(key: string, text: string, expectedId?: string): DecodedRecord {
  const fail = (problem: string): DecodedRecord => ({
    ok: false,
    problem: expectedId === undefined ? { file: key, problem } : { file: key, problem, id: expectedId },
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail('record must be a JSON object');
  const r = value as Partial<SchemaRecord>;
  if (!Number.isSafeInteger(r.version) || (r.version as number) < 1) return fail('record has no valid "version"');
  const parsed = toSchemaDocument(r.schema, key, r.version);
  if (!parsed.ok) return fail(parsed.problem.problem);
  if (expectedId !== undefined && parsed.document.id !== expectedId) {
    return fail(
      `schema $id ${JSON.stringify(parsed.document.id)} does not match its key (${JSON.stringify(expectedId)})`,
    );
  }
  const record: SchemaRecord = {
    id: parsed.document.id,
    version: r.version as number,
    hash: typeof r.hash === 'string' ? r.hash : '',
    publishedAt: typeof r.publishedAt === 'string' ? r.publishedAt : '',
    forced: r.forced === true,
    schema: parsed.document.schema,
  };
  if (Array.isArray(r.breaks)) record.breaks = r.breaks;
  return { ok: true, record, document: parsed.document };
}
