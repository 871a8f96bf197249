import { InvalidOptionsError } from '@switchyard/broker';

/**
 * Validators for the gateway's options. Each throws INVALID_OPTIONS whose message and
 * `details.option` name the option (or environment variable) that is wrong.
 */
export function invalidOption(option: string, problem: string): InstanceType<typeof InvalidOptionsError> {
  return new InvalidOptionsError(`gateway option "${option}" ${problem}`, { details: { option } });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A typo must not fall back to a default silently. */
export function knownKeys(option: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw invalidOption(option ? `${option}.${key}` : key, `is not a known option (known: ${known.join(', ')})`);
    }
  }
}

export function intOption(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(option, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** An integer from an option, else from an environment variable, else the default. */
export function intSetting(
  option: string,
  value: unknown,
  envName: string,
  envValue: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value !== undefined) return intOption(option, value, min, max);
  if (envValue !== undefined) {
    const n = /^\d+$/.test(envValue) ? Number(envValue) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw invalidOption(envName, `must be an integer from ${min} to ${max}, got ${JSON.stringify(envValue)}`);
    }
    return n;
  }
  return fallback;
}

export function stringOption(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw invalidOption(option, `must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function boolOption(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(option, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}
