import { InvalidArgumentError, type Violation } from '@switchyard/broker';
import { checkRoute, parseRoutesFile, type RouteDefinition } from '@switchyard/gateway';

/** A route from the file, valid, with where it came from. */
export interface DesiredRoute {
  readonly id: string;
  readonly route: RouteDefinition;
  /** `routes.yaml[2]`, for messages. */
  readonly where: string;
}

export interface InvalidRoute {
  where: string;
  id?: string;
  violations: Violation[];
}

/**
 * Parse and validate a whole routes file: every route against the route schema and the
 * gateway's own checks, plus unique ids. Throws INVALID_ARGUMENT listing every invalid
 * route with every reason (`details.routes`) — so nothing is applied unless all of them
 * are good.
 */
export function validateRoutesFile(text: string, name: string): DesiredRoute[] {
  const items = parseRoutesFile(text, name);
  const valid: DesiredRoute[] = [];
  const invalid: InvalidRoute[] = [];
  const seen = new Map<string, string>();
  items.forEach((value, i) => {
    const rawId = (value as { id?: unknown } | null)?.id;
    const id = typeof rawId === 'string' ? rawId : undefined;
    const where = id === undefined ? `${name}[${i}]` : `${name}[${i}] (${id})`;
    const check = checkRoute(value);
    const violations = check.ok ? [] : [...check.violations];
    if (id !== undefined && seen.has(id)) {
      violations.unshift({ pointer: '/id', message: `duplicates the id of ${seen.get(id)}` });
    } else if (id !== undefined) {
      seen.set(id, where);
    }
    if (violations.length > 0 || !check.ok) invalid.push({ where, ...(id ? { id } : {}), violations });
    else valid.push({ id: check.route.id, route: check.route, where });
  });
  if (invalid.length > 0) {
    const n = invalid.length;
    throw new InvalidArgumentError(`${name} has ${n} invalid route${n === 1 ? '' : 's'}; nothing was written`, {
      details: { routes: invalid },
    });
  }
  return valid;
}
