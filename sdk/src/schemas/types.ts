import type { Violation } from '@switchyard/broker';

/** A JSON Schema (2020-12): an object, or `true` / `false`. */
export type JsonSchema = JsonSchemaObject | boolean;

/** A JSON Schema object. Keywords are read, never mutated. */
export type JsonSchemaObject = { readonly [keyword: string]: unknown };

/** One schema document as a source delivers it: a top-level schema addressed by its `$id`. */
export interface SchemaDocument {
  /** The schema's `$id` (absolute URI). */
  readonly id: string;
  readonly schema: JsonSchemaObject;
  /** Where it came from: a file path or an etcd key. Named in every error about it. */
  readonly origin: string;
  /** The published version when the source is etcd. */
  readonly version?: number;
}

/** Why one schema file (or etcd key) cannot be used. */
export interface SchemaProblem {
  /** File path or etcd key. */
  file: string;
  /** The problem in plain words. */
  problem: string;
  /** The `$id` the file is (or was last) known by, when there is one. */
  id?: string;
}

/**
 * One way a new schema version rejects payloads the old one accepted. `pointer` is a JSON
 * pointer into the schema (the keyword that changed), walking through `$ref`s as if they
 * were inlined.
 */
export interface Break {
  pointer: string;
  message: string;
}

/** Everything a source holds at one moment: usable documents and broken files. */
export interface SchemaSnapshot {
  documents: SchemaDocument[];
  problems: SchemaProblem[];
}

/**
 * Where a SchemaRegistry gets its schemas from (a directory, etcd, memory). A source
 * always delivers whole snapshots; the registry works out what changed.
 */
export interface SchemaSource {
  /** For logs and errors, e.g. `directory schemas/` or `etcd /switchyard/schemas/`. */
  readonly description: string;
  /** Deliver the first snapshot before resolving, later ones whenever something changes. */
  start(onSnapshot: (snapshot: SchemaSnapshot) => void): Promise<void>;
  close(): Promise<void>;
}

/** The logger a schema component writes to: pino (or anything with `warn`) fits. */
export interface SchemaLogger {
  warn(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
}

export type { Violation };
