import { toSchemaDocument } from './schema-loader.js';
import type { SchemaDocument, SchemaProblem, SchemaSnapshot, SchemaSource } from './types.js';

/**
 * Schemas held in memory, replaced with `set()`: for tests, and for embedding schemas that
 * ship inside an application.
 */
export class MemorySchemaSource implements SchemaSource {
  readonly description = 'memory';
  private snapshot: SchemaSnapshot = { documents: [], problems: [] };
  private listener: ((snapshot: SchemaSnapshot) => void) | undefined;

  constructor(schemas: readonly unknown[] = []) {
    this.snapshot = MemorySchemaSource.toSnapshot(schemas);
  }

  /**
   * Replace every schema. `problems` lets a test stand in for a source that found broken
   * files (e.g. `{ file, problem, id }` for a schema that became unreadable).
   */
  set(schemas: readonly unknown[], problems: readonly SchemaProblem[] = []): void {
    const next = MemorySchemaSource.toSnapshot(schemas);
    next.problems.push(...problems);
    this.snapshot = next;
    this.listener?.(next);
  }

  async start(onSnapshot: (snapshot: SchemaSnapshot) => void): Promise<void> {
    if (this.listener) return;
    this.listener = onSnapshot;
    onSnapshot(this.snapshot);
  }

  async close(): Promise<void> {
    this.listener = undefined;
  }

  private static toSnapshot(schemas: readonly unknown[]): SchemaSnapshot {
    const documents: SchemaDocument[] = [];
    const problems: SchemaProblem[] = [];
    schemas.forEach((schema, i) => {
      const id = (schema as { $id?: unknown } | null)?.$id;
      const parsed = toSchemaDocument(schema, typeof id === 'string' ? `memory:${id}` : `memory[${i}]`);
      if (parsed.ok) documents.push(parsed.document);
      else problems.push(parsed.problem);
    });
    return { documents, problems };
  }
}
