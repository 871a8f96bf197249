import { parseRoutePathPattern, type RoutePathPattern } from './path-pattern.js';

/**
 * How the upstream path is made from the normalised request path, decided once per route:
 * keep it, strip a literal prefix, or fill a rewrite template. The query is not part of
 * it: the caller appends `?query` unchanged.
 */
export type UpstreamPlan =
  | { readonly kind: 'keep' }
  | { readonly kind: 'strip'; readonly prefix: string }
  | { readonly kind: 'rewrite'; readonly parts: readonly RewritePart[] };

/**
 * A rewrite template, pre-split: literal text, a request segment by index (a `:param`
 * sits at the same index in the request as in the pattern), or the wildcard tail.
 */
export type RewritePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'segment'; readonly index: number }
  | { readonly kind: 'tail' };

export type UpstreamPlanParse = { ok: true; plan: UpstreamPlan } | { ok: false; pointer: string; message: string };

const KEEP: UpstreamPlan = Object.freeze({ kind: 'keep' });

export function parseUpstreamPlan(
  pattern: RoutePathPattern,
  target: { stripPrefix?: string | undefined; rewrite?: string | undefined },
): UpstreamPlanParse {
  if (target.stripPrefix !== undefined && target.rewrite !== undefined) {
    return { ok: false, pointer: '/target/rewrite', message: 'stripPrefix and rewrite exclude each other' };
  }
  if (target.stripPrefix !== undefined) return parseStrip(pattern, target.stripPrefix);
  if (target.rewrite !== undefined) return parseRewrite(pattern, target.rewrite);
  return { ok: true, plan: KEEP };
}

function parseStrip(pattern: RoutePathPattern, prefix: string): UpstreamPlanParse {
  const pointer = '/target/stripPrefix';
  const p = parseRoutePathPattern(prefix);
  if (!p.ok) return { ok: false, pointer, message: p.message };
  if (p.pattern.kind !== 'exact') return { ok: false, pointer, message: 'must be literal (no :params, no *)' };
  const segs = p.pattern.segments;
  if (segs.length === 0) return { ok: false, pointer, message: 'must not be "/" (it would strip nothing)' };
  const literalPrefix =
    segs.length <= pattern.segments.length &&
    segs.every((s, i) => {
      const own = pattern.segments[i]!;
      return own.kind === 'literal' && s.kind === 'literal' && own.value === s.value;
    });
  if (!literalPrefix) {
    return {
      ok: false,
      pointer,
      message: `must be a whole-segment literal prefix of match.path "${pattern.source}", so every matched request has it`,
    };
  }
  return { ok: true, plan: Object.freeze({ kind: 'strip', prefix }) };
}

function parseRewrite(pattern: RoutePathPattern, template: string): UpstreamPlanParse {
  const pointer = '/target/rewrite';
  if (template.charCodeAt(0) !== 0x2f) return { ok: false, pointer, message: 'must start with "/"' };
  const p = parseRoutePathPattern(template);
  if (!p.ok) return { ok: false, pointer, message: p.message };
  const parts: RewritePart[] = [];
  let text = '';
  for (const seg of p.pattern.segments) {
    if (seg.kind === 'literal') {
      text += `/${seg.value}`;
      continue;
    }
    const index = pattern.segments.findIndex((s) => s.kind === 'param' && s.name === seg.name);
    if (index < 0) {
      return {
        ok: false,
        pointer,
        message: `uses ":${seg.name}", which match.path "${pattern.source}" does not define`,
      };
    }
    parts.push({ kind: 'text', text: `${text}/` });
    text = '';
    parts.push({ kind: 'segment', index });
  }
  if (p.pattern.wildcard) {
    if (!pattern.wildcard) {
      return { ok: false, pointer, message: `ends in "*", but match.path "${pattern.source}" has no "*"` };
    }
    if (text !== '') parts.push({ kind: 'text', text });
    parts.push({ kind: 'tail' });
  } else if (text !== '' || parts.length === 0) {
    parts.push({ kind: 'text', text: text === '' ? '/' : text });
  }
  return {
    ok: true,
    plan: Object.freeze({ kind: 'rewrite', parts: Object.freeze(parts.map((x) => Object.freeze(x))) }),
  };
}

/**
 * The upstream path for a matched request: `segments` are the request's path segments,
 * `tail` the part the wildcard matched (without its leading "/", '' when none).
 */
export function buildUpstreamPath(plan: UpstreamPlan, path: string, segments: readonly string[], tail: string): string {
  switch (plan.kind) {
    case 'keep':
      return path;
    case 'strip': {
      const rest = path.slice(plan.prefix.length);
      return rest.length === 0 ? '/' : rest;
    }
    case 'rewrite': {
      let out = '';
      for (const part of plan.parts) {
        if (part.kind === 'text') out += part.text;
        else if (part.kind === 'segment') out += segments[part.index];
        else if (tail !== '') out += `/${tail}`;
      }
      return out === '' ? '/' : out;
    }
  }
}
