import { InvalidOptionsError } from '@switchyard/broker';
import { type AccessRule, AccessRules } from './access-rules.js';
import { isScopeToken } from './scopes.js';

/**
 * - `required`: a valid credential must be sent (401 otherwise);
 * - `optional`: no credential means anonymous; a credential sent must be valid (401 otherwise);
 * - `off`: the gateway does not authenticate (client-sent identity headers are still stripped).
 */
export type AuthMode = 'required' | 'optional' | 'off';
export const AUTH_MODES: readonly AuthMode[] = Object.freeze(['required', 'optional', 'off']);

/** The `auth` section of a route. */
export interface RouteAuthConfig {
  /** Default `required`. */
  mode?: AuthMode;
  /** Scopes the caller must all have (403 insufficient_scope otherwise). */
  scopes?: readonly string[];
  /** Ordered access rules; when present, anything no rule allows is denied. */
  rules?: readonly AccessRule[];
}

/** A route's auth policy, compiled once when routes are loaded. */
export interface RouteAuth {
  readonly mode: AuthMode;
  readonly scopes: readonly string[];
  readonly rules: AccessRules | undefined;
  /** The route's id: its resource is `route:<id>` for the shared access rules. */
  readonly routeId: string | undefined;
}

function invalid(option: string, message: string): never {
  throw new InvalidOptionsError(`${option} ${message}`, { details: { option } });
}

/** Validate and compile a route's auth config; `option` names it in errors (e.g. `routes[3].auth`). */
export function compileRouteAuth(config: RouteAuthConfig = {}, option = 'auth', routeId?: string): RouteAuth {
  if (typeof config !== 'object' || config === null) invalid(option, 'must be an object');
  const mode = config.mode ?? 'required';
  if (!AUTH_MODES.includes(mode)) invalid(`${option}.mode`, `must be one of ${AUTH_MODES.join(', ')}`);
  const scopes = config.scopes ?? [];
  if (!Array.isArray(scopes) || !scopes.every(isScopeToken)) {
    invalid(`${option}.scopes`, 'must be an array of scopes (no spaces or quotes)');
  }
  if (mode === 'off' && (scopes.length > 0 || (config.rules?.length ?? 0) > 0)) {
    invalid(`${option}.mode`, 'is "off", so scopes and rules would never be enforced; remove them or change the mode');
  }
  const rules =
    config.rules === undefined || config.rules.length === 0
      ? undefined
      : new AccessRules(config.rules, `${option}.rules`);
  return Object.freeze({ mode, scopes: Object.freeze([...new Set(scopes)]), rules, routeId });
}
