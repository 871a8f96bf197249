import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InternalError, type Violation, validationError } from '@switchyard/broker';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parseRoutePathPattern } from './path-pattern.js';
import type { RouteDefinition } from './route-types.js';
import { parseUpstreamPlan } from './upstream-path.js';

/**
 * Route validation: the JSON Schema in schemas/switchyard/route.json (the shape), then
 * the checks a schema cannot express (path syntax, rewrite parameters, ...). The schema
 * file is read and compiled once, on first use, by a private ajv instance, so routing
 * does not depend on the schema registry's internals.
 */

export const ROUTE_SCHEMA_ID = 'switchyard:route';
/** schemas/switchyard/route.json at the repository root (same relative place from src/ and dist/). */
export const ROUTE_SCHEMA_FILE = fileURLToPath(new URL('../../../schemas/switchyard/route.json', import.meta.url));

export interface CheckRouteOptions {
  /** The id the route's location claims (the etcd key's last segment); `route.id` must equal it. */
  expectedId?: string;
}

export type RouteCheck = { ok: true; route: RouteDefinition } | { ok: false; violations: Violation[] };

let validator: ValidateFunction | undefined;

function routeValidator(): ValidateFunction {
  if (validator) return validator;
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(ROUTE_SCHEMA_FILE, 'utf8'));
  } catch (err) {
    throw new InternalError(`cannot read the route schema at ${ROUTE_SCHEMA_FILE}`, { cause: err });
  }
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  validator = ajv.compile(schema as object);
  return validator;
}

/** The route schema as loaded (for tools that show or publish it). */
export function routeSchema(): object {
  return routeValidator().schema as object;
}

/** Validate a decoded route without throwing: every violation, with a JSON pointer. */
export function checkRoute(value: unknown, options: CheckRouteOptions = {}): RouteCheck {
  const validate = routeValidator();
  if (!validate(value)) return { ok: false, violations: toViolations(validate.errors ?? []) };
  const route = value as RouteDefinition;
  const v = semanticViolations(route);
  if (options.expectedId !== undefined && route.id !== options.expectedId) {
    v.unshift({ pointer: '/id', message: `must equal the id in the route's key ("${options.expectedId}")` });
  }
  return v.length > 0 ? { ok: false, violations: v } : { ok: true, route };
}

/** Validate a decoded route; throws INVALID_ARGUMENT listing every violation. */
export function parseRoute(value: unknown, options: CheckRouteOptions = {}): RouteDefinition {
  const r = checkRoute(value, options);
  if (!r.ok) throw validationError('route', r.violations);
  return r.route;
}

function semanticViolations(route: RouteDefinition): Violation[] {
  const v: Violation[] = [];
  const parsed = parseRoutePathPattern(route.match.path);
  if (!parsed.ok) {
    v.push({ pointer: '/match/path', message: parsed.message });
  }
  const target = route.target;
  if (target.type === 'http') {
    if (parsed.ok) {
      const plan = parseUpstreamPlan(parsed.pattern, target);
      if (!plan.ok) v.push({ pointer: plan.pointer, message: plan.message });
    }
    const hashing = target.balancer === 'consistent-hash';
    if (hashing && target.hashHeader === undefined) {
      v.push({ pointer: '/target/hashHeader', message: 'is required by balancer "consistent-hash"' });
    }
    if (!hashing && target.hashHeader !== undefined) {
      v.push({ pointer: '/target/hashHeader', message: 'is only used by balancer "consistent-hash"' });
    }
  }
  if (target.type === 'rpc' && target.stream === 'websocket') {
    // A WebSocket opens with a GET (RFC 6455 §4.1): a route that matches no GET would never open one.
    if (route.match.methods !== undefined && !route.match.methods.includes('GET')) {
      v.push({ pointer: '/match/methods', message: 'must include GET: a WebSocket opens with a GET request' });
    }
    if (route.retries !== undefined) {
      v.push({ pointer: '/retries', message: 'cannot apply to a WebSocket stream (its items are not replayed)' });
    }
  }
  if (route.cache !== undefined) {
    if (target.type !== 'http') {
      v.push({
        pointer: '/cache',
        message: 'is only for http targets (an RPC reply is not an HTTP response to cache)',
      });
    } else if (route.match.methods && !route.match.methods.some((m) => m === 'GET' || m === 'HEAD')) {
      v.push({ pointer: '/cache', message: 'caches GET and HEAD only, and this route matches neither' });
    }
  }
  const auth = route.auth;
  if (auth?.mode === 'off' && (auth.scopes !== undefined || auth.rules !== undefined)) {
    v.push({
      pointer: '/auth/mode',
      message: 'is "off", so scopes and rules would be ignored: remove them or choose "optional"/"required"',
    });
  }
  return v;
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

function toViolations(errors: ErrorObject[]): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // "must match then schema" only repeats the errors of the branch it applied.
    if (e.keyword === 'if') continue;
    let pointer = e.instancePath;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      pointer += `/${escapePointer(String(e.params.missingProperty))}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      pointer += `/${escapePointer(String(e.params.additionalProperty))}`;
      message = 'is not allowed here (misspelt or unknown field)';
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(e.params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
    }
    const key = `${pointer}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pointer, message });
  }
  return out;
}
