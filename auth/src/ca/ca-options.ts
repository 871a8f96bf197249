import { isIP } from 'node:net';
import { InvalidOptionsError } from '@switchyard/broker';
import { KEY_TYPES, type KeyType } from './key-pair.js';

/** An option of initCa/issueCert that is wrong: INVALID_OPTIONS with the option named. */
export function caOptionError(fn: string, option: string, problem: string): InstanceType<typeof InvalidOptionsError> {
  return new InvalidOptionsError(`${fn} option "${option}" ${problem}`, { details: { option } });
}

/** Also a file name (`<name>.crt`), so no separators, no leading dot. */
export const CERT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A DNS name or a leftmost wildcard (`*.svc.local`); labels of letters, digits and hyphens. */
const DNS_NAME = /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function requireObject(fn: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw caOptionError(fn, 'options', 'must be an object');
  }
  return value as Record<string, unknown>;
}

export function knownOptions(fn: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw caOptionError(fn, key, `is not a known option (known: ${known.join(', ')})`);
  }
}

export function stringOption(fn: string, option: string, value: unknown, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || value.trim() === '') throw caOptionError(fn, option, 'must be a non-empty string');
  return value;
}

export function validityOption(fn: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 36_500) {
    throw caOptionError(
      fn,
      'validityDays',
      `must be a whole number of days from 1 to 36500, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function keyTypeOption(fn: string, value: unknown): KeyType {
  if (value === undefined) return 'ec';
  if (!KEY_TYPES.includes(value as KeyType)) {
    throw caOptionError(fn, 'keyType', `must be one of ${KEY_TYPES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as KeyType;
}

export function boolOption(fn: string, option: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw caOptionError(fn, option, 'must be a boolean');
}

export function dnsOption(fn: string, value: unknown): string[] {
  const list = listOption(fn, 'dns', value);
  for (const name of list) {
    if (name.length > 253 || !DNS_NAME.test(name)) {
      throw caOptionError(fn, 'dns', `has ${JSON.stringify(name)}, which is not a DNS name`);
    }
  }
  return list;
}

export function ipOption(fn: string, value: unknown): string[] {
  const list = listOption(fn, 'ip', value);
  for (const ip of list) {
    if (isIP(ip) === 0)
      throw caOptionError(fn, 'ip', `has ${JSON.stringify(ip)}, which is not an IPv4 or IPv6 address`);
  }
  return list;
}

function listOption(fn: string, option: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw caOptionError(fn, option, 'must be an array of strings');
  }
  return [...new Set(value as string[])];
}
