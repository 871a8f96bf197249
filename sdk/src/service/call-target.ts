import { InvalidArgumentError } from '@switchyard/broker';
import { SERVICE_NAME_PATTERN } from '../registry/instance-record.js';
import { METHOD_NAME_PATTERN } from './service-options.js';

/** A parsed `service.method` address. */
export interface CallTarget {
  readonly service: string;
  readonly method: string;
}

const MAX_CACHED = 1_024;

/**
 * Parses `service.method` (split at the last dot: service names may hold dots, method
 * names may not) once per distinct string; callers use a handful of targets, so the
 * cache makes parsing a map lookup. Past MAX_CACHED distinct targets (a caller building
 * them from user input) it stops caching rather than grow without bound.
 */
export class CallTargets {
  private readonly cache = new Map<string, CallTarget>();

  parse(target: string): CallTarget {
    const hit = this.cache.get(target);
    if (hit) return hit;
    const parsed = parseCallTarget(target);
    if (this.cache.size < MAX_CACHED) this.cache.set(target, parsed);
    return parsed;
  }
}

export function parseCallTarget(target: unknown): CallTarget {
  const dot = typeof target === 'string' ? target.lastIndexOf('.') : -1;
  const service = dot > 0 ? (target as string).slice(0, dot) : '';
  const method = dot > 0 ? (target as string).slice(dot + 1) : '';
  if (!SERVICE_NAME_PATTERN.test(service) || !METHOD_NAME_PATTERN.test(method)) {
    throw new InvalidArgumentError(`call target must be "service.method", got ${JSON.stringify(target)}`, {
      details: { target },
    });
  }
  return Object.freeze({ service, method });
}
