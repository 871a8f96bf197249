import { InvalidArgumentError, InvalidOptionsError } from '@switchyard/broker';

const MAX_KEY_BYTES = 512;

export function checkCacheKey(key: unknown): string {
  if (typeof key !== 'string' || key === '') {
    throw new InvalidArgumentError('cache key must be a non-empty string', { details: { key } });
  }
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new InvalidArgumentError(`cache key is longer than ${MAX_KEY_BYTES} bytes`, {
      details: { key: `${key.slice(0, 40)}…` },
    });
  }
  return key;
}

export function checkTtl(where: string, ttl: unknown): number | undefined {
  if (ttl === undefined) return undefined;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1) {
    throw new InvalidArgumentError(`${where} ttlMs must be a whole number of ms >= 1, got ${JSON.stringify(ttl)}`, {
      details: { ttlMs: ttl },
    });
  }
  return ttl;
}

export function cacheOption(cache: string, option: string, problem: string) {
  return new InvalidOptionsError(`${cache} option "${option}" ${problem}`, { details: { option } });
}
