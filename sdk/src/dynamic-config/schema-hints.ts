/**
 * Environment variables and secret file names arrive upper- or lower-case and as text.
 * The config's schema tells what they mean: which property `MAXITEMS` names (`maxItems`),
 * and whether "5" is the number 5 or the string "5".
 */
type Schema = Record<string, unknown>;

function asSchema(value: unknown): Schema | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Schema) : undefined;
}

const fold = (name: string) => name.toLowerCase().replace(/[-_]/g, '');

/** The schema's spelling of each segment where it has a property of that name up to case, `_` and `-`; else the segment lower-cased. */
export function resolveSegments(raw: readonly string[], schema: unknown): string[] {
  const out: string[] = [];
  let at = asSchema(schema);
  for (const segment of raw) {
    const props = asSchema(at?.properties);
    const match = props ? Object.keys(props).find((k) => k === segment || fold(k) === fold(segment)) : undefined;
    const name = match ?? segment.toLowerCase();
    out.push(name);
    at = props && match ? asSchema(props[match]) : asSchema(at?.additionalProperties);
  }
  return out;
}

function schemaAt(schema: unknown, segments: readonly string[]): Schema | undefined {
  let at = asSchema(schema);
  for (const s of segments) {
    const props = asSchema(at?.properties);
    at = props && Object.hasOwn(props, s) ? asSchema(props[s]) : asSchema(at?.additionalProperties);
    if (!at) return undefined;
  }
  return at;
}

/** Text from the environment or a file as the value the schema expects there: a string stays text, anything else is read as JSON when it parses. */
export function coerceText(text: string, segments: readonly string[], schema: unknown): unknown {
  const type = schemaAt(schema, segments)?.type;
  const types = Array.isArray(type) ? type : type === undefined ? [] : [type];
  if (types.length > 0 && types.every((t) => t === 'string')) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
