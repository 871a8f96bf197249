import { InvalidOptionsError } from '@switchyard/broker';

/**
 * Small validators for options objects: each throws INVALID_OPTIONS whose message and
 * `details.option` name the offending option (dotted path, e.g. `methods.get.maxConcurrent`).
 */
export function invalidOption(option: string, problem: string): InstanceType<typeof InvalidOptionsError> {
  return new InvalidOptionsError(`option "${option}" ${problem}`, { details: { option } });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object, or `undefined` read as `{}`. */
export function objectOption(option: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw invalidOption(option, 'must be an object');
  return value;
}

/** Rejects keys the option object does not know: a typo must not silently fall back to a default. */
export function knownKeys(option: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw invalidOption(option ? `${option}.${key}` : key, `is not a known option (known: ${known.join(', ')})`);
    }
  }
}

export function intOption(
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(
      option,
      `must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function numberOption(
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  max = Number.POSITIVE_INFINITY,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidOption(
      option,
      `must be a number ${max === Number.POSITIVE_INFINITY ? `>= ${min}` : `in ${min}-${max}`}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function boolOption(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(option, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

export function stringOption(option: string, value: unknown, pattern?: RegExp): string {
  if (typeof value !== 'string' || value === '' || (pattern && !pattern.test(value))) {
    throw invalidOption(
      option,
      `must be a non-empty string${pattern ? ` matching ${pattern.source}` : ''}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function optionalString(option: string, value: unknown, pattern?: RegExp): string | undefined {
  return value === undefined ? undefined : stringOption(option, value, pattern);
}
