import { InvalidOptionsError } from '@switchyard/broker';

/**
 * A request path as decoded segments, or undefined when it cannot be matched safely.
 *
 * Normalised the way lenient routers treat paths, so that a deny rule cannot be dodged
 * with a spelling the router would still route: empty segments are dropped (`//`, a
 * trailing `/`) and segments are percent-decoded. Dot segments (`.`, `..`, also encoded)
 * and bad escapes make the path unmatchable: no rule matches, so access rules fall back
 * to their default deny.
 */
export function pathSegments(url: string | undefined): string[] | undefined {
  if (url === undefined) return undefined;
  let path = url;
  // absolute-form request targets (RFC 9112 §3.2.2), as sent to proxies
  if (!path.startsWith('/')) {
    if (!/^https?:\/\//i.test(path)) return undefined;
    try {
      path = new URL(path).pathname;
    } catch {
      return undefined;
    }
  }
  const end = path.search(/[?#]/);
  if (end >= 0) path = path.slice(0, end);
  const out: string[] = [];
  for (const raw of path.split('/')) {
    if (raw === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (seg === '.' || seg === '..') return undefined;
    out.push(seg);
  }
  return out;
}

type Part = { kind: 'literal'; value: string } | { kind: 'param' } | { kind: 'star' };

/**
 * A compiled resource pattern:
 * - `/orders/:id` — `:name` matches exactly one segment;
 * - `/orders/*` — `*` as the last segment matches one or more segments (the rest of the path);
 * - a `*` segment anywhere else matches exactly one segment, like `:name`;
 * - everything else matches literally (case-sensitive, after percent-decoding).
 */
export class PathPattern {
  readonly source: string;
  readonly #parts: readonly Part[];
  readonly #rest: boolean;

  constructor(pattern: string, option = 'pattern') {
    if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
      throw new InvalidOptionsError(`${option} must be a path starting with "/", got ${JSON.stringify(pattern)}`, {
        details: { option },
      });
    }
    const parts: Part[] = [];
    for (const raw of pattern.split(/[?#]/)[0]!.split('/')) {
      if (raw === '') continue;
      if (raw === '*') parts.push({ kind: 'star' });
      else if (raw.startsWith(':')) {
        if (!/^:[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) {
          throw new InvalidOptionsError(`${option} has an invalid parameter ${JSON.stringify(raw)}`, {
            details: { option },
          });
        }
        parts.push({ kind: 'param' });
      } else if (raw.includes('*')) {
        throw new InvalidOptionsError(`${option}: "*" must be a whole segment, got ${JSON.stringify(raw)}`, {
          details: { option },
        });
      } else {
        let value: string;
        try {
          value = decodeURIComponent(raw);
        } catch (cause) {
          throw new InvalidOptionsError(`${option} has a bad percent-escape in ${JSON.stringify(raw)}`, {
            details: { option },
            cause,
          });
        }
        parts.push({ kind: 'literal', value });
      }
    }
    this.source = pattern;
    this.#rest = parts.at(-1)?.kind === 'star';
    this.#parts = Object.freeze(parts);
  }

  /** Whether decoded path segments (see pathSegments) match. */
  matches(segments: readonly string[]): boolean {
    const parts = this.#parts;
    const fixed = this.#rest ? parts.length - 1 : parts.length;
    if (this.#rest ? segments.length <= fixed : segments.length !== fixed) return false;
    for (let i = 0; i < fixed; i++) {
      const p = parts[i]!;
      if (p.kind === 'literal' && p.value !== segments[i]) return false;
    }
    return true;
  }
}
