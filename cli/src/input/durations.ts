import { UsageError } from '../output/cli-errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `1500`, `1500ms`, `5s`, `2m`, `1h` as milliseconds (a bare number is milliseconds). */
export function parseDurationMs(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  const ms = m ? Number(m[1]) * UNITS[m[2] ?? 'ms']! : Number.NaN;
  if (!Number.isFinite(ms) || ms <= 0 || !Number.isSafeInteger(Math.round(ms))) {
    throw new UsageError(`${flag} must be a duration such as 500ms, 5s or 2m, got ${JSON.stringify(value)}`);
  }
  return Math.round(ms);
}

/** A positive integer flag value. */
export function parsePositiveInt(value: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(`${flag} must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** `name=value` pairs of a repeatable flag. */
export function parsePairs(values: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} takes name=value, got ${JSON.stringify(v)}`);
    out[v.slice(0, eq).trim()] = v.slice(eq + 1);
  }
  return out;
}

/** Commander collector for repeatable flags. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
