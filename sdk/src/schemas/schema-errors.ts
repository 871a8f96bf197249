import { SchemaIncompatibleError, SchemaInvalidError } from '@switchyard/broker';
import type { Break, SchemaProblem } from './types.js';

export type SchemaInvalidErrorInstance = InstanceType<typeof SchemaInvalidError>;
export type SchemaIncompatibleErrorInstance = InstanceType<typeof SchemaIncompatibleError>;

/** A break found while publishing, naming the schema it belongs to. */
export interface SchemaBreak extends Break {
  id: string;
}

/**
 * SCHEMA_INVALID for one or more broken files. `details.file` / `details.problem` (and
 * `details.id` when known) name the first (the documented shape); `details.problems` lists
 * all of them.
 */
export function schemaInvalidError(problems: readonly SchemaProblem[]): SchemaInvalidErrorInstance {
  const first = problems[0] ?? { file: '(unknown)', problem: 'unknown problem' };
  const message =
    problems.length <= 1
      ? `schema ${first.file} is broken: ${first.problem}`
      : `${problems.length} schemas are broken: ${problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`;
  return new SchemaInvalidError(message, {
    details: {
      file: first.file,
      problem: first.problem,
      ...(first.id === undefined ? {} : { id: first.id }),
      problems: problems.map((p) => ({ ...p })),
    },
  });
}

/** SCHEMA_INCOMPATIBLE listing every break, in words. */
export function schemaIncompatibleError(breaks: readonly SchemaBreak[]): SchemaIncompatibleErrorInstance {
  const ids = [...new Set(breaks.map((b) => b.id))];
  const lines = breaks.map((b) => `${ids.length > 1 ? `${b.id} ` : ''}${b.pointer || '/'}: ${b.message}`);
  const message = `${ids.length === 1 ? ids[0] : `${ids.length} schemas`} would break existing payloads: ${lines.join('; ')}`;
  return new SchemaIncompatibleError(message, {
    details: { ...(ids.length === 1 ? { id: ids[0] } : {}), breaks: breaks.map((b) => ({ ...b })) },
  });
}
