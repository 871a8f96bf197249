import { AlreadyExistsError, InvalidOptionsError, SchemaNotFoundError } from '@switchyard/broker';
import type { Etcd3 } from 'etcd3';
import { schemaHash } from './canonical-json.js';
import { checkCompatibility } from './compatibility.js';
import {
  checkNamespace,
  DEFAULT_SCHEMA_NAMESPACE,
  decodeRecord,
  historyKey,
  historyPrefix,
  idOfLatestKey,
  latestKey,
  latestPrefix,
  type SchemaRecord,
} from './etcd-keys.js';
import {
  compileSchemas,
  metaValidator,
  type SchemaCompilerOptions,
  validateCompilerOptions,
} from './schema-compiler.js';
import { type SchemaBreak, schemaIncompatibleError, schemaInvalidError } from './schema-errors.js';
import { assertNoProblems, loadSchemaDirectory, toSchemaDocument } from './schema-loader.js';
import { referencedDocuments, withDependants } from './schema-refs.js';
import type { Break, SchemaDocument, SchemaLogger, SchemaProblem } from './types.js';

export interface SchemaPublisherOptions extends SchemaCompilerOptions {
  /** A connected etcd3 client; the caller owns it. Required. */
  client: Etcd3;
  /** Keys live under `/<namespace>/schemas/`. Default 'switchyard'. */
  namespace?: string;
  /**
   * How many times to read again and re-check when another publisher wrote one of the same
   * schemas first. Default 3.
   */
  conflictRetries?: number;
  /** Default: none. */
  logger?: SchemaLogger;
}

export interface SchemaPublishOptions {
  /**
   * Publish even when the new version breaks payloads the latest one accepted; the breaks
   * are stored with the version. Never publishes a broken schema. Default false.
   */
  force?: boolean;
}

export interface SchemaPublishResult {
  id: string;
  /** The latest version after the call: the new one, or the existing one when unchanged. */
  version: number;
  /** `unchanged`: the latest version already is this schema (key order and whitespace aside). */
  status: 'published' | 'unchanged';
  /** Breaks `force` overrode; empty otherwise. */
  breaks: Break[];
}

export interface PublishedSchemaSummary {
  id: string;
  version: number;
  hash: string;
  publishedAt: string;
  forced: boolean;
}

export const DEFAULT_CONFLICT_RETRIES = 3;
/** etcd allows 128 operations per transaction by default; each schema takes 2 puts (and 2 compares). */
const SCHEMAS_PER_TXN = 50;

interface Latest {
  record: SchemaRecord;
  modRevision: string;
}

interface PublishedState {
  latest: Map<string, Latest>;
  /** Ids whose latest record cannot be read (a foreign writer's mistake), with the next free version. */
  unreadable: Map<string, { problem: SchemaProblem; modRevision: string; nextVersion: number }>;
}

/**
 * Publishes schemas to etcd with a version history. A new version must compile (with its
 * `$ref`s resolved against the other published schemas and the ones published with it),
 * must not break published schemas that reference it, and must be backward compatible with
 * the latest version unless forced. Each version is written in a transaction that fails
 * if anyone else published in between, so two publishers never both create a version.
 */
export class SchemaPublisher {
  private readonly client: Etcd3;
  private readonly namespace: string;
  private readonly conflictRetries: number;
  private readonly logger: SchemaLogger | undefined;
  private readonly compilerOptions: SchemaCompilerOptions;

  constructor(options: SchemaPublisherOptions) {
    if (!options?.client || typeof options.client.if !== 'function') {
      throw new InvalidOptionsError('client must be an etcd3 Etcd3 client');
    }
    validateCompilerOptions(options);
    const retries = options.conflictRetries ?? DEFAULT_CONFLICT_RETRIES;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new InvalidOptionsError(`conflictRetries must be an integer >= 0, got ${String(options.conflictRetries)}`);
    }
    this.client = options.client;
    this.namespace = checkNamespace(options.namespace ?? DEFAULT_SCHEMA_NAMESPACE);
    this.conflictRetries = retries;
    this.logger = options.logger;
    this.compilerOptions = options.formats ? { formats: options.formats } : {};
  }

  /** Publish one schema (an object with `$id`). */
  async publish(schema: unknown, options: SchemaPublishOptions = {}): Promise<SchemaPublishResult> {
    const [result] = await this.publishAll([schema], options);
    return result!;
  }

  /** Publish every `**\/*.json` under `dir`: all checked first, nothing published if any fails. */
  async publishDirectory(dir: string, options: SchemaPublishOptions = {}): Promise<SchemaPublishResult[]> {
    const snapshot = await loadSchemaDirectory(dir);
    assertNoProblems(snapshot.problems);
    return this.publishDocuments(snapshot.documents, options);
  }

  /** Publish several schemas together: all checked first, nothing published if any fails. */
  async publishAll(schemas: readonly unknown[], options: SchemaPublishOptions = {}): Promise<SchemaPublishResult[]> {
    const documents: SchemaDocument[] = [];
    const problems: SchemaProblem[] = [];
    schemas.forEach((schema, i) => {
      const id = (schema as { $id?: unknown } | null)?.$id;
      const parsed = toSchemaDocument(schema, typeof id === 'string' ? id : `schemas[${i}]`);
      if (parsed.ok) documents.push(parsed.document);
      else problems.push(parsed.problem);
    });
    const seen = new Set<string>();
    for (const d of documents) {
      if (seen.has(d.id))
        problems.push({ file: d.origin, problem: `duplicate $id ${JSON.stringify(d.id)} in one publish`, id: d.id });
      seen.add(d.id);
    }
    assertNoProblems(problems);
    return this.publishDocuments(documents, options);
  }

  /** Every published schema with its latest version. */
  async list(): Promise<PublishedSchemaSummary[]> {
    const { latest } = await this.readPublished();
    return [...latest.values()]
      .map(({ record: r }) => ({
        id: r.id,
        version: r.version,
        hash: r.hash,
        publishedAt: r.publishedAt,
        forced: r.forced,
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Every version of `id`, oldest first; throws SCHEMA_NOT_FOUND. */
  async history(id: string): Promise<SchemaRecord[]> {
    const kvs = await this.client.getAll().prefix(historyPrefix(this.namespace, id)).strings();
    const records: SchemaRecord[] = [];
    for (const [key, value] of Object.entries(kvs)) {
      const decoded = decodeRecord(key, value, id);
      if (decoded.ok) records.push(decoded.record);
      else this.logger?.warn({ key, problem: decoded.problem.problem }, 'unreadable schema history record skipped');
    }
    if (records.length === 0) throw this.notFound(id);
    return records.sort((a, b) => a.version - b.version);
  }

  /** One version of `id` (default: the latest); throws SCHEMA_NOT_FOUND. */
  async get(id: string, version?: number): Promise<SchemaRecord> {
    const key = version === undefined ? latestKey(this.namespace, id) : historyKey(this.namespace, id, version);
    const text = await this.client.get(key).string();
    if (text === null) throw this.notFound(id, version);
    const decoded = decodeRecord(key, text, id);
    if (!decoded.ok) throw schemaInvalidError([decoded.problem]);
    return decoded.record;
  }

  private notFound(id: string, version?: number) {
    const what = version === undefined ? '' : ` version ${version}`;
    return new SchemaNotFoundError(`no published schema with $id ${JSON.stringify(id)}${what}`, {
      details: version === undefined ? { id } : { id, version },
    });
  }

  private async publishDocuments(
    documents: SchemaDocument[],
    options: SchemaPublishOptions,
  ): Promise<SchemaPublishResult[]> {
    for (let attempt = 0; ; attempt++) {
      const state = await this.readPublished();
      const plan = this.plan(documents, state, options.force === true);
      if (plan.writes.length === 0) return plan.results;
      const conflict = await this.write(plan.writes);
      if (conflict === undefined) {
        this.logger?.info?.(
          {
            published: plan.writes.map((w) => ({
              id: w.record.id,
              version: w.record.version,
              forced: w.record.forced,
            })),
          },
          'schemas published',
        );
        return plan.results;
      }
      if (attempt >= this.conflictRetries) {
        throw new AlreadyExistsError(
          `${conflict} was published by someone else meanwhile; gave up after ${attempt + 1} attempts`,
          { details: { id: conflict }, retryable: true },
        );
      }
      this.logger?.info?.({ id: conflict, attempt }, 'schema publish raced another publisher; checking again');
    }
  }

  /** Check everything against what is published; throws before anything is written. */
  private plan(documents: SchemaDocument[], state: PublishedState, force: boolean) {
    const published = new Map<string, SchemaDocument>();
    for (const [id, { record }] of state.latest)
      published.set(id, { id, schema: record.schema, origin: latestKey(this.namespace, id) });
    const next = new Map(published);
    for (const d of documents) next.set(d.id, d);

    // 1. Every new schema compiles against the others, and no published schema that refers
    //    to one of them stops compiling. A broken schema is never published, even forced.
    const ids = documents.map((d) => d.id);
    const refs = new Map<string, Set<string>>();
    for (const [id, doc] of next) refs.set(id, referencedDocuments(doc.schema, id));
    const { problems } = compileSchemas([...next.values()], {
      ...this.compilerOptions,
      only: withDependants(ids, refs),
    });
    const own = new Set(ids);
    assertNoProblems(
      problems.map((p) =>
        own.has(p.id!) ? p : { ...p, problem: `published schema ${p.id} would stop compiling: ${p.problem}` },
      ),
    );

    // 2. Backward compatibility with each latest version.
    const results: SchemaPublishResult[] = [];
    const writes: Array<{ record: SchemaRecord; modRevision: string | undefined }> = [];
    const allBreaks: SchemaBreak[] = [];
    const publishedAt = new Date().toISOString();
    const meta = metaValidator();
    for (const doc of documents) {
      const latest = state.latest.get(doc.id);
      const hash = schemaHash(doc.schema);
      if (latest && schemaHash(latest.record.schema) === hash) {
        results.push({ id: doc.id, version: latest.record.version, status: 'unchanged', breaks: [] });
        continue;
      }
      const unreadable = state.unreadable.get(doc.id);
      // Written by someone else than a publisher: nothing can be proven against it.
      const latestInvalid = latest !== undefined && !meta.validateSchema(latest.record.schema);
      const breaks: Break[] = unreadable
        ? [
            {
              pointer: '',
              message: `the latest published version cannot be read (${unreadable.problem.problem}); cannot prove the change compatible`,
            },
          ]
        : latestInvalid
          ? [
              {
                pointer: '',
                message: 'the latest published version is not a valid schema; cannot prove the change compatible',
              },
            ]
          : latest
            ? checkCompatibility(latest.record.schema, doc.schema, {
                resolveOld: (id) => published.get(id)?.schema,
                resolve: (id) => next.get(id)?.schema,
              })
            : [];
      allBreaks.push(...breaks.map((b) => ({ id: doc.id, ...b })));
      const version = unreadable ? unreadable.nextVersion : (latest?.record.version ?? 0) + 1;
      const record: SchemaRecord = {
        id: doc.id,
        version,
        hash,
        publishedAt,
        forced: breaks.length > 0,
        schema: doc.schema,
      };
      if (breaks.length > 0) record.breaks = breaks;
      writes.push({ record, modRevision: unreadable ? unreadable.modRevision : latest?.modRevision });
      results.push({ id: doc.id, version, status: 'published', breaks });
    }
    // 3. Published schemas that reference a changed one (and are not changed themselves)
    //    change with it; a narrowed `$defs` entry is only visible from them. Each must stay
    //    compatible with itself as it was.
    const changedIds = new Set(writes.map((w) => w.record.id));
    for (const id of withDependants(changedIds, refs)) {
      const before = published.get(id);
      if (!before || changedIds.has(id)) continue;
      const breaks = checkCompatibility(before.schema, before.schema, {
        resolveOld: (ref) => published.get(ref)?.schema,
        resolve: (ref) => next.get(ref)?.schema,
      });
      allBreaks.push(...breaks.map((b) => ({ id, ...b, message: `${b.message} (through a schema it references)` })));
    }
    if (allBreaks.length > 0 && !force) throw schemaIncompatibleError(allBreaks);
    return { results, writes };
  }

  /**
   * Write versions in transactions that succeed only if each latest key is still the one
   * read and each new version key does not exist. Returns the id of a schema someone else
   * published first, or undefined when everything was written.
   */
  private async write(
    writes: Array<{ record: SchemaRecord; modRevision: string | undefined }>,
  ): Promise<string | undefined> {
    for (let i = 0; i < writes.length; i += SCHEMAS_PER_TXN) {
      const chunk = writes.slice(i, i + SCHEMAS_PER_TXN);
      const first = chunk[0]!;
      const firstLatest = latestKey(this.namespace, first.record.id);
      let txn =
        first.modRevision === undefined
          ? this.client.if(firstLatest, 'Version', '==', 0)
          : this.client.if(firstLatest, 'Mod', '==', first.modRevision);
      const puts = [];
      for (const { record, modRevision } of chunk) {
        const latest = latestKey(this.namespace, record.id);
        const version = historyKey(this.namespace, record.id, record.version);
        if (record !== first.record) {
          txn =
            modRevision === undefined ? txn.and(latest, 'Version', '==', 0) : txn.and(latest, 'Mod', '==', modRevision);
        }
        txn = txn.and(version, 'Version', '==', 0);
        const value = JSON.stringify(record);
        puts.push(this.client.put(version).value(value), this.client.put(latest).value(value));
      }
      const res = await txn.then(...puts).commit();
      if (!res.succeeded) return chunk.map((w) => w.record.id).join(', ');
    }
    return undefined;
  }

  private async readPublished(): Promise<PublishedState> {
    const res = await this.client.getAll().prefix(latestPrefix(this.namespace)).exec();
    const latest = new Map<string, Latest>();
    const unreadable: PublishedState['unreadable'] = new Map();
    for (const kv of res.kvs) {
      const key = kv.key.toString();
      const id = idOfLatestKey(this.namespace, key);
      if (id === undefined) continue;
      const decoded = decodeRecord(key, kv.value.toString(), id);
      if (decoded.ok) latest.set(id, { record: decoded.record, modRevision: String(kv.mod_revision) });
      else {
        const versions = await this.client.getAll().prefix(historyPrefix(this.namespace, id)).keys();
        const max = Math.max(
          0,
          ...versions.map((k) => Number(k.slice(k.lastIndexOf('/') + 1))).filter(Number.isSafeInteger),
        );
        unreadable.set(id, { problem: decoded.problem, modRevision: String(kv.mod_revision), nextVersion: max + 1 });
      }
    }
    return { latest, unreadable };
  }
}
