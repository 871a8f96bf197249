import { InvalidOptionsError } from '@switchyard/broker';
import { Ajv2020, type ErrorObject, type Format, MissingRefError } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { schemaHash } from './canonical-json.js';
import type { SchemaDocument, SchemaProblem } from './types.js';
import { SchemaValidator } from './validator.js';
import { toViolations } from './violations.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the plugin is on `.default`.
const addFormats = addFormatsModule.default;

export const JSON_SCHEMA_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

export interface SchemaCompilerOptions {
  /**
   * Formats beyond ajv-formats' (date-time, email, uuid, uri, ...), e.g.
   * `{ 'order-id': /^ord_[0-9a-z]{12}$/ }`. A format no one defined is a schema error.
   * Default: none.
   */
  formats?: Readonly<Record<string, Format>>;
}

export function validateCompilerOptions(options: SchemaCompilerOptions, prefix = ''): void {
  if (options.formats === undefined) return;
  if (typeof options.formats !== 'object' || options.formats === null) {
    throw new InvalidOptionsError(`${prefix}formats must be an object mapping format names to a RegExp or function`);
  }
  for (const [name, f] of Object.entries(options.formats)) {
    if (!(f instanceof RegExp) && typeof f !== 'function' && typeof f !== 'object' && typeof f !== 'string') {
      throw new InvalidOptionsError(`${prefix}formats.${name} must be a RegExp, a function or a format definition`);
    }
  }
}

/**
 * The one ajv configuration used everywhere: JSON Schema 2020-12, every error (not just
 * the first), strict about the schema itself (unknown keywords and unknown formats are
 * errors: a typo would otherwise silently accept anything), and nothing that mutates a
 * payload (no defaults, no coercion, no removal). Three strict checks are off because
 * they reject valid, common 2020-12: `required` naming a property defined in another
 * branch (strictRequired), keywords without a `type` next to them in shared definitions
 * (strictTypes), and open tuples (strictTuples).
 */
export function createAjv(options: SchemaCompilerOptions = {}): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    strictRequired: false,
    strictTypes: false,
    strictTuples: false,
    useDefaults: false,
    coerceTypes: false,
    removeAdditional: false,
    logger: false,
  });
  addFormats(ajv);
  for (const [name, format] of Object.entries(options.formats ?? {})) ajv.addFormat(name, format);
  return ajv;
}

let metaAjv: Ajv2020 | undefined;

/**
 * Checks schemas against the 2020-12 meta-schema. Compiling the meta-schema costs 20-80 ms
 * per ajv instance, so one instance is kept for this and only this (it never has a schema
 * added, so it does not grow); formats play no part in the meta-schema.
 */
export function metaValidator(): Ajv2020 {
  metaAjv ??= createAjv();
  return metaAjv;
}

export interface CompileResult {
  /** Validators for the ids asked for that compiled. */
  validators: Map<string, SchemaValidator>;
  /** One problem per document that failed (each carries its id). */
  problems: SchemaProblem[];
  /** For ids that failed only because a `$ref`ed document is missing: that document's URI. */
  missingDocuments: Map<string, string>;
}

/**
 * Compile `docs` as one set (their `$ref`s resolve against each other) with a fresh ajv.
 * Only ids in `only` are compiled (default: all); the others are added so that refs to them
 * resolve, without compiling them on their own.
 */
export function compileSchemas(
  docs: readonly SchemaDocument[],
  options: SchemaCompilerOptions & { only?: ReadonlySet<string> } = {},
): CompileResult {
  const ajv = createAjv(options);
  const result: CompileResult = { validators: new Map(), problems: [], missingDocuments: new Map() };
  const added = new Map<string, SchemaDocument>();
  const fail = (doc: SchemaDocument, problem: string) =>
    result.problems.push({ file: doc.origin, problem, id: doc.id });
  for (const doc of docs) {
    const declared = doc.schema.$schema;
    if (declared !== undefined && declared !== JSON_SCHEMA_2020_12 && declared !== `${JSON_SCHEMA_2020_12}#`) {
      fail(
        doc,
        `$schema is ${JSON.stringify(declared)}; only JSON Schema 2020-12 (${JSON_SCHEMA_2020_12}) is supported`,
      );
      continue;
    }
    const meta = metaValidator();
    if (!meta.validateSchema(doc.schema)) {
      fail(doc, `not a valid JSON Schema 2020-12: ${describeMetaErrors(meta.errors)}`);
      continue;
    }
    try {
      // Already validated above, with a better message than addSchema's.
      ajv.addSchema(doc.schema as object, undefined, undefined, false);
      added.set(doc.id, doc);
    } catch (err) {
      fail(doc, (err as Error).message);
    }
  }
  for (const [id, doc] of added) {
    if (options.only && !options.only.has(id)) continue;
    try {
      const fn = ajv.getSchema(id);
      if (fn === undefined) {
        fail(doc, `ajv does not know $id ${id} after adding it`);
        continue;
      }
      result.validators.set(id, new SchemaValidator(id, doc.schema, schemaHash(doc.schema), fn, doc.version));
    } catch (err) {
      if (err instanceof MissingRefError) {
        const missingDoc = err.missingSchema;
        const known = added.has(missingDoc) || docs.some((d) => d.id === missingDoc);
        fail(
          doc,
          known
            ? `$ref to ${JSON.stringify(err.missingRef)} cannot be resolved: ${missingDoc} has nothing at that fragment, or is itself broken`
            : `$ref to ${JSON.stringify(err.missingRef)} cannot be resolved: no schema has $id ${JSON.stringify(missingDoc)}`,
        );
        result.missingDocuments.set(id, missingDoc);
      } else {
        fail(doc, (err as Error).message);
      }
    }
  }
  return result;
}

/** The meta-schema's complaints, one per place in the schema. */
function describeMetaErrors(errors: readonly ErrorObject[] | null | undefined): string {
  const byPointer = new Map<string, string>();
  for (const v of toViolations(errors)) if (!byPointer.has(v.pointer)) byPointer.set(v.pointer, v.message);
  return [...byPointer].map(([pointer, message]) => `${pointer || '/'} ${message}`).join('; ');
}
