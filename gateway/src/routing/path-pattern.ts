import { normalizePath } from './normalize-path.js';

/**
 * A route's `match.path`, parsed once. Syntax (docs/routes.md, "Paths"):
 * `/literal/:param/...` with an optional last segment `*` (or `**`, the same thing) that
 * matches the rest of the path, zero or more segments. Literal segments must already be
 * in normalised form, because they are compared with normalised request paths.
 */

export type RoutePathSegment =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string };

export type RoutePathKind = 'exact' | 'params' | 'wildcard';

export interface RoutePathPattern {
  readonly source: string;
  /** The segments before the wildcard (all of them when there is none). */
  readonly segments: readonly RoutePathSegment[];
  readonly wildcard: boolean;
  /** exact: literals only; params: at least one `:param`, no wildcard; wildcard: ends in `*`. */
  readonly kind: RoutePathKind;
  readonly paramNames: readonly string[];
}

export type RoutePathParse = { ok: true; pattern: RoutePathPattern } | { ok: false; message: string };

export const PARAM_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function isWildcardSegment(s: string): boolean {
  return s === '*' || s === '**';
}

/** Parse a route path pattern (also used for `rewrite` templates and `stripPrefix`). */
export function parseRoutePathPattern(source: string): RoutePathParse {
  if (typeof source !== 'string' || source.charCodeAt(0) !== 0x2f) {
    return { ok: false, message: 'must start with "/"' };
  }
  if (source === '/') return { ok: true, pattern: freezePattern(source, [], false) };
  if (source.endsWith('/'))
    return { ok: false, message: 'must not end with "/" (a trailing slash is ignored when matching)' };
  const parts = source.slice(1).split('/');
  const segments: RoutePathSegment[] = [];
  const names = new Set<string>();
  let wildcard = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '') return { ok: false, message: 'must not contain an empty segment ("//")' };
    if (isWildcardSegment(part)) {
      if (i !== parts.length - 1) return { ok: false, message: `"${part}" is only allowed as the last segment` };
      wildcard = true;
      continue;
    }
    if (part.startsWith(':')) {
      const name = part.slice(1);
      if (!PARAM_NAME_PATTERN.test(name) || name.startsWith('__')) {
        return {
          ok: false,
          message: `parameter "${part}" must be ":" then a name matching ${PARAM_NAME_PATTERN.source} (not starting with "__")`,
        };
      }
      if (names.has(name)) return { ok: false, message: `parameter ":${name}" appears twice` };
      names.add(name);
      segments.push({ kind: 'param', name });
      continue;
    }
    const problem = literalProblem(part);
    if (problem) return { ok: false, message: problem };
    segments.push({ kind: 'literal', value: part });
  }
  return { ok: true, pattern: freezePattern(source, segments, wildcard) };
}

/** Why a literal segment is not in the normalised form requests are compared in, if it is not. */
function literalProblem(segment: string): string | undefined {
  if (segment === '.' || segment === '..') return `segment "${segment}" is not allowed`;
  const n = normalizePath(`/${segment}`);
  if (!n.ok) return `segment "${segment}": ${n.message}`;
  if (n.path !== `/${segment}`) {
    return `segment "${segment}" is not in normalised form; write it as "${n.path.slice(1)}"`;
  }
  return undefined;
}

function freezePattern(source: string, segments: RoutePathSegment[], wildcard: boolean): RoutePathPattern {
  const paramNames = segments.flatMap((s) => (s.kind === 'param' ? [s.name] : []));
  const kind: RoutePathKind = wildcard ? 'wildcard' : paramNames.length > 0 ? 'params' : 'exact';
  return Object.freeze({
    source,
    segments: Object.freeze(segments.map((s) => Object.freeze(s))),
    wildcard,
    kind,
    paramNames: Object.freeze(paramNames),
  });
}

const KIND_ORDER: Record<RoutePathKind, number> = { exact: 0, params: 1, wildcard: 2 };

/**
 * Path specificity, most specific first (negative when `a` is more specific):
 * exact before params before wildcard; then more fixed segments first; then, segment by
 * segment from the left, a literal before a parameter.
 */
export function comparePatternSpecificity(a: RoutePathPattern, b: RoutePathPattern): number {
  if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  if (a.segments.length !== b.segments.length) return b.segments.length - a.segments.length;
  for (let i = 0; i < a.segments.length; i++) {
    const ka = a.segments[i]!.kind;
    const kb = b.segments[i]!.kind;
    if (ka !== kb) return ka === 'literal' ? -1 : 1;
  }
  return 0;
}
