import { EventEmitter } from 'node:events';
import { ClosedError, InvalidOptionsError, SchemaNotFoundError } from '@switchyard/broker';
import { schemaHash } from './canonical-json.js';
import { compileSchemas, type SchemaCompilerOptions, validateCompilerOptions } from './schema-compiler.js';
import { type SchemaInvalidErrorInstance, schemaInvalidError } from './schema-errors.js';
import { referencedDocuments, withDependants } from './schema-refs.js';
import type { SchemaDocument, SchemaLogger, SchemaProblem, SchemaSnapshot, SchemaSource, Violation } from './types.js';
import type { SchemaValidator } from './validator.js';

export interface SchemaRegistryOptions extends SchemaCompilerOptions {
  /** Where schemas come from: DirectorySchemaSource, EtcdSchemaSource, MemorySchemaSource. Required. */
  source: SchemaSource;
  /** Default: none. Rejected updates are also emitted as `invalid`. */
  logger?: SchemaLogger;
  /**
   * Start even when schemas are broken at the first load; they are left out, reported
   * through `invalid` and the logger. Default false: `start()` throws SCHEMA_INVALID naming
   * every broken file, because a service that cannot validate should not come up quietly.
   */
  tolerateBrokenAtStart?: boolean;
}

/** What one update changed: ids with a new compiled validator, and ids that are gone. */
export interface SchemaChange {
  updated: string[];
  removed: string[];
}

export interface SchemaRegistryEvents {
  change: [SchemaChange];
  /** A schema (or file) was rejected; the id keeps its last good version, if it had one. */
  invalid: [SchemaInvalidErrorInstance];
}

interface Entry {
  doc: SchemaDocument;
  validator: SchemaValidator;
}

/**
 * Compiled validators for every schema a source holds, kept current. Each schema is
 * compiled once per change; a change to a referenced schema recompiles its dependants.
 * A broken update never takes a schema away: the id keeps its last good validator, and the
 * problem is logged and emitted as `invalid`. Hold the registry, not a validator, to
 * always validate with the newest version.
 */
export class SchemaRegistry extends EventEmitter<SchemaRegistryEvents> {
  private readonly source: SchemaSource;
  private readonly logger: SchemaLogger | undefined;
  private readonly tolerateBrokenAtStart: boolean;
  private readonly compilerOptions: SchemaCompilerOptions;
  private entries = new Map<string, Entry>();
  private reported = new Set<string>();
  private starting: Promise<void> | undefined;
  private closed = false;
  /** Hashes by schema object: sources that keep unchanged objects are not rehashed. */
  private readonly hashes = new WeakMap<object, string>();

  constructor(options: SchemaRegistryOptions) {
    super();
    const source = options?.source;
    if (!source || typeof source.start !== 'function' || typeof source.close !== 'function') {
      throw new InvalidOptionsError('source must be a SchemaSource (e.g. new DirectorySchemaSource({ dir }))');
    }
    validateCompilerOptions(options);
    this.source = source;
    this.logger = options.logger;
    this.tolerateBrokenAtStart = options.tolerateBrokenAtStart ?? false;
    this.compilerOptions = options.formats ? { formats: options.formats } : {};
  }

  /** Load and compile the first snapshot. Idempotent. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('schema registry is closed'));
    this.starting ??= this.doStart();
    return this.starting;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.source.close();
  }

  /** The newest validator for `id`; throws SCHEMA_NOT_FOUND. */
  get<T = unknown>(id: string): SchemaValidator<T> {
    const entry = this.entries.get(id);
    if (!entry) {
      throw new SchemaNotFoundError(`no schema with $id ${JSON.stringify(id)} in ${this.source.description}`, {
        details: { id },
      });
    }
    return entry.validator as SchemaValidator<T>;
  }

  /** The newest good document of `id` (its schema as loaded), or undefined. */
  document(id: string): SchemaDocument | undefined {
    return this.entries.get(id)?.doc;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  ids(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Violations of `data` against the newest version of `id`. */
  validate(id: string, data: unknown): Violation[] {
    return this.get(id).validate(data);
  }

  /** Throw INVALID_ARGUMENT listing every violation of `data` against the newest `id`. */
  assert<T = unknown>(id: string, data: unknown, what = 'payload'): asserts data is T {
    const validator: SchemaValidator<T> = this.get<T>(id);
    validator.assert(data, what);
  }

  private async doStart(): Promise<void> {
    let first: SchemaProblem[] | undefined;
    try {
      await this.source.start((snapshot) => {
        if (this.closed) return;
        try {
          if (first === undefined) first = this.apply(snapshot, this.tolerateBrokenAtStart);
          else this.apply(snapshot, true);
        } catch (err) {
          // A bug: never let it escape into the source (etcd rethrows it and crashes the process).
          this.logger?.warn({ err, source: this.source.description }, 'schema update failed');
        }
      });
    } catch (err) {
      await this.close();
      throw err;
    }
    if (first === undefined) {
      throw new InvalidOptionsError(`${this.source.description} did not deliver schemas when started`);
    }
    if (first.length > 0 && !this.tolerateBrokenAtStart) {
      await this.close();
      throw schemaInvalidError(first);
    }
  }

  private hashOf(doc: SchemaDocument): string {
    let h = this.hashes.get(doc.schema);
    if (h === undefined) {
      h = schemaHash(doc.schema);
      this.hashes.set(doc.schema, h);
    }
    return h;
  }

  /** Fold one snapshot in; returns the problems found (source problems and rejected schemas). */
  private apply(snapshot: SchemaSnapshot, report: boolean): SchemaProblem[] {
    const previous = this.entries;
    const problems: SchemaProblem[] = [...snapshot.problems];
    const brokenIds = new Set(snapshot.problems.flatMap((p) => (p.id === undefined ? [] : [p.id])));

    // The set to compile: what the source holds, where an unchanged schema keeps its very
    // object (so identity says "unchanged"), plus the last good version of ids now broken.
    const set = new Map<string, SchemaDocument>();
    const changed = new Set<string>();
    for (const doc of snapshot.documents) {
      const cur = previous.get(doc.id);
      if (cur && this.hashOf(cur.doc) === this.hashOf(doc)) set.set(doc.id, cur.doc);
      else {
        set.set(doc.id, doc);
        changed.add(doc.id);
      }
    }
    for (const id of brokenIds) {
      const cur = previous.get(id);
      if (cur && !set.has(id)) set.set(id, cur.doc);
    }
    const removed = [...previous.keys()].filter((id) => !set.has(id));

    let compiled = new Map<string, SchemaValidator>();
    if (changed.size > 0 || removed.length > 0) {
      const affected = withDependants([...changed, ...removed], this.refsOf(set));
      // Compile; a changed schema that fails falls back to its last good version (or is
      // left out when it has none) and the rest is compiled again, until nothing new fails.
      for (let pass = 0; pass <= set.size; pass++) {
        const result = compileSchemas([...set.values()], {
          ...this.compilerOptions,
          only: new Set([...affected].filter((id) => set.has(id))),
        });
        compiled = result.validators;
        let fellBack = false;
        for (const p of result.problems) {
          const id = p.id!;
          const last = previous.get(id)?.doc;
          if (set.get(id) === last) continue; // the last good version itself fails now: keep its old validator
          problems.push(p);
          if (last) set.set(id, last);
          else set.delete(id);
          fellBack = true;
        }
        if (!fellBack) break;
      }
    }

    // Swap in validators whose schema, or a schema they reference, really changed.
    const next = new Map<string, Entry>();
    const reallyChanged = [...set].filter(([id, doc]) => previous.get(id)?.doc !== doc).map(([id]) => id);
    const gone = [...previous.keys()].filter((id) => !set.has(id));
    const updatedIds = withDependants([...reallyChanged, ...gone], this.refsOf(set));
    const updated: string[] = [];
    for (const [id, doc] of set) {
      const validator = compiled.get(id);
      const cur = previous.get(id);
      if (validator && (updatedIds.has(id) || !cur)) {
        next.set(id, { doc, validator });
        updated.push(id);
      } else if (cur) next.set(id, cur);
    }
    this.entries = next;

    if (report) this.report(problems);
    if (updated.length > 0 || gone.length > 0) {
      const change = { updated: updated.sort(), removed: gone.sort() };
      this.logger?.info?.({ ...change, source: this.source.description }, 'schemas updated');
      this.safeEmit('change', change);
    }
    return problems;
  }

  /** A listener that throws must not stop the update (or reach the source, which may rethrow it). */
  private safeEmit<K extends keyof SchemaRegistryEvents>(event: K, ...args: SchemaRegistryEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: SchemaRegistryEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.logger?.warn({ err, event }, 'schema registry listener threw');
    }
  }

  private refsOf(set: ReadonlyMap<string, SchemaDocument>): Map<string, Set<string>> {
    const refs = new Map<string, Set<string>>();
    for (const [id, doc] of set) refs.set(id, referencedDocuments(doc.schema, id));
    return refs;
  }

  /** Log and emit each problem once, until it goes away (a broken file is not re-reported per reload). */
  private report(problems: readonly SchemaProblem[]): void {
    const now = new Set<string>();
    for (const p of problems) {
      const key = `${p.file}\u0000${p.problem}`;
      now.add(key);
      if (this.reported.has(key)) continue;
      const kept = p.id !== undefined && this.entries.has(p.id);
      this.logger?.warn(
        { file: p.file, problem: p.problem, id: p.id, source: this.source.description },
        kept ? 'schema rejected; keeping its last good version' : 'schema rejected',
      );
      this.safeEmit('invalid', schemaInvalidError([p]));
    }
    this.reported = now;
  }
}
