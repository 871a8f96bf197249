import { normalizeHost } from './host-pattern.js';
import { comparePatternSpecificity } from './path-pattern.js';
import type { CompiledRoute } from './route-compiler.js';
import { HTTP_METHODS } from './route-types.js';
import { buildUpstreamPath } from './upstream-path.js';

/**
 * The route table: every compiled route, arranged for matching. Built once per change
 * (immutable afterwards; the store swaps whole tables), never per request.
 *
 * Layout: one segment trie per host bucket — each exact host, each `*.suffix`, and one
 * for routes without hosts. A route with several hosts sits in several buckets. Every
 * (route, host) entry gets a global rank from the precedence rules, so a match is
 * "the lowest-ranked entry whose host, path and method fit", found by a pruned walk of
 * the buckets that apply to the request's host. No regex, no per-request compilation.
 *
 * Precedence (docs/routes.md, "Which route wins"): higher `priority` first; then path
 * specificity (exact > params > wildcard; more fixed segments; literal before param,
 * left to right); then host specificity (exact > longer wildcard suffix > any host);
 * then route id, so the result never depends on insertion order.
 */

/** A matched route and what the next stages need. */
export interface RouteMatch {
  readonly methodNotAllowed: false;
  readonly route: CompiledRoute;
  /** `:param` values and the wildcard tail (key `*`), as they appear in the normalised path. */
  readonly params: Readonly<Record<string, string>>;
  /** The path to send upstream (http targets); the caller appends `?query`. */
  readonly upstreamPath: string;
}

/** Some route matches host and path, but none admits the method: answer 405 with `Allow`. */
export interface MethodNotAllowed {
  readonly methodNotAllowed: true;
  /** Methods that would have matched, in a stable order. */
  readonly allowed: readonly string[];
}

export type RouteLookup = RouteMatch | MethodNotAllowed | undefined;

interface Entry {
  readonly route: CompiledRoute;
  readonly rank: number;
}

class TrieNode {
  literal: Map<string, TrieNode> | undefined;
  param: TrieNode | undefined;
  /** Entries whose pattern ends exactly here, best rank first. */
  terminal: Entry[] = [];
  /** Wildcard entries whose fixed part ends here (they match here and below), best rank first. */
  wildcard: Entry[] = [];
  /** Lowest rank anywhere in this subtree: lets a walk skip subtrees that cannot win. */
  minRank = Number.POSITIVE_INFINITY;

  insert(entry: Entry): void {
    let node: TrieNode = this;
    for (const seg of entry.route.pattern.segments) {
      if (seg.kind === 'literal') {
        node.literal ??= new Map();
        let next = node.literal.get(seg.value);
        if (!next) {
          next = new TrieNode();
          node.literal.set(seg.value, next);
        }
        node = next;
      } else {
        node.param ??= new TrieNode();
        node = node.param;
      }
    }
    (entry.route.pattern.wildcard ? node.wildcard : node.terminal).push(entry);
  }

  /** Sort entry lists and compute minRank, bottom-up. */
  seal(): number {
    const byRank = (a: Entry, b: Entry) => a.rank - b.rank;
    this.terminal.sort(byRank);
    this.wildcard.sort(byRank);
    let min = Math.min(
      this.terminal[0]?.rank ?? Number.POSITIVE_INFINITY,
      this.wildcard[0]?.rank ?? Number.POSITIVE_INFINITY,
    );
    if (this.literal) for (const child of this.literal.values()) min = Math.min(min, child.seal());
    if (this.param) min = Math.min(min, this.param.seal());
    this.minRank = min;
    return min;
  }
}

/** Mutable state of one lookup walk. */
interface Walk {
  readonly method: string;
  readonly segments: readonly string[];
  best: Entry | undefined;
  bestRank: number;
  /** Some entry matched host and path (whatever the method). */
  pathMatched: boolean;
}

function admits(route: CompiledRoute, method: string): boolean {
  return route.allowedMethods === undefined || route.allowedMethods.has(method);
}

function consider(list: Entry[], w: Walk): void {
  for (const e of list) {
    if (e.rank >= w.bestRank) return; // sorted: nothing later in the list can win
    w.pathMatched = true;
    if (admits(e.route, w.method)) {
      w.best = e;
      w.bestRank = e.rank;
      return;
    }
  }
}

function walk(node: TrieNode, i: number, w: Walk): void {
  if (node.minRank >= w.bestRank) return;
  if (node.wildcard.length > 0) consider(node.wildcard, w);
  if (i === w.segments.length) {
    consider(node.terminal, w);
    return;
  }
  const seg = w.segments[i]!;
  const next = node.literal?.get(seg);
  if (next) walk(next, i + 1, w);
  if (node.param && seg !== '') walk(node.param, i + 1, w);
}

/** Every entry matching the path, whatever the method (the 405 path only). */
function collect(node: TrieNode, segments: readonly string[], i: number, out: Entry[]): void {
  out.push(...node.wildcard);
  if (i === segments.length) {
    out.push(...node.terminal);
    return;
  }
  const seg = segments[i]!;
  const next = node.literal?.get(seg);
  if (next) collect(next, segments, i + 1, out);
  if (node.param && seg !== '') collect(node.param, segments, i + 1, out);
}

/** Split a normalised path into segments; one trailing slash is ignored for matching. */
function splitPath(path: string): string[] {
  let end = path.length;
  if (end > 1 && path.charCodeAt(end - 1) === 0x2f) end--;
  return end <= 1 ? [] : path.slice(1, end).split('/');
}

/** The part of `path` after its first `n` segments, without the leading "/". */
function tailAfter(path: string, n: number): string {
  let pos = 0;
  for (let k = 0; k < n; k++) {
    pos = path.indexOf('/', pos + 1);
    if (pos < 0) return '';
  }
  return path.slice(pos + 1);
}

const METHOD_ORDER = new Map<string, number>(HTTP_METHODS.map((m, i) => [m, i]));

function hostRank(route: CompiledRoute, hostIndex: number): [number, number] {
  const spec = route.hosts?.[hostIndex];
  if (!spec) return [2, 0];
  return spec.kind === 'exact' ? [0, 0] : [1, -spec.suffix.length];
}

export class RouteTable {
  static readonly EMPTY: RouteTable = new RouteTable([]);

  /** Every route, sorted by id. */
  readonly routes: readonly CompiledRoute[];
  private readonly byId: ReadonlyMap<string, CompiledRoute>;
  private readonly exactHosts = new Map<string, TrieNode>();
  private readonly wildcardHosts = new Map<string, TrieNode>();
  private readonly anyHost = new TrieNode();

  /** Build a table. Route ids must be unique (the store guarantees it). */
  constructor(routes: readonly CompiledRoute[]) {
    const sorted = [...routes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.routes = Object.freeze(sorted);
    this.byId = new Map(sorted.map((r) => [r.id, r]));
    // One entry per (route, host pattern); ranked globally by the precedence rules.
    const pending: { route: CompiledRoute; hostIndex: number }[] = [];
    for (const route of sorted) {
      const n = route.hosts?.length ?? 0;
      if (n === 0) pending.push({ route, hostIndex: -1 });
      for (let i = 0; i < n; i++) pending.push({ route, hostIndex: i });
    }
    pending.sort((a, b) => {
      if (a.route.priority !== b.route.priority) return b.route.priority - a.route.priority;
      const spec = comparePatternSpecificity(a.route.pattern, b.route.pattern);
      if (spec !== 0) return spec;
      const [ha, sa] = hostRank(a.route, a.hostIndex);
      const [hb, sb] = hostRank(b.route, b.hostIndex);
      if (ha !== hb) return ha - hb;
      if (sa !== sb) return sa - sb;
      return a.route.id < b.route.id ? -1 : a.route.id > b.route.id ? 1 : 0;
    });
    pending.forEach(({ route, hostIndex }, rank) => {
      this.bucketFor(route, hostIndex).insert({ route, rank });
    });
    this.anyHost.seal();
    for (const node of this.exactHosts.values()) node.seal();
    for (const node of this.wildcardHosts.values()) node.seal();
  }

  get size(): number {
    return this.routes.length;
  }

  get(id: string): CompiledRoute | undefined {
    return this.byId.get(id);
  }

  /**
   * Find the route for a request. `path` must be the normalised path (`normalizePath`),
   * `host` the Host header as received (normalised here), `method` upper-case.
   * Returns undefined for 404, `{ methodNotAllowed: true }` for 405.
   */
  match(host: string | undefined, method: string, path: string): RouteLookup {
    const segments = splitPath(path);
    const w: Walk = { method, segments, best: undefined, bestRank: Number.POSITIVE_INFINITY, pathMatched: false };
    const h = this.exactHosts.size > 0 || this.wildcardHosts.size > 0 ? normalizeHost(host) : '';
    if (h !== '') {
      const exact = this.exactHosts.get(h);
      if (exact) walk(exact, 0, w);
      if (this.wildcardHosts.size > 0) {
        for (let dot = h.indexOf('.', 1); dot > 0; dot = h.indexOf('.', dot + 1)) {
          const node = this.wildcardHosts.get(h.slice(dot));
          if (node) walk(node, 0, w);
        }
      }
    }
    walk(this.anyHost, 0, w);
    const best = w.best;
    if (best) {
      const route = best.route;
      const pattern = route.pattern;
      const params: Record<string, string> = {};
      for (let i = 0; i < pattern.segments.length; i++) {
        const seg = pattern.segments[i]!;
        if (seg.kind === 'param') params[seg.name] = segments[i]!;
      }
      let tail = '';
      if (pattern.wildcard) {
        tail = tailAfter(path, pattern.segments.length);
        params['*'] = tail;
      }
      return {
        methodNotAllowed: false,
        route,
        params,
        upstreamPath: buildUpstreamPath(route.upstream, path, segments, tail),
      };
    }
    if (!w.pathMatched) return undefined;
    return { methodNotAllowed: true, allowed: this.allowedMethods(h, segments) };
  }

  private allowedMethods(host: string, segments: readonly string[]): string[] {
    const entries: Entry[] = [];
    if (host !== '') {
      const exact = this.exactHosts.get(host);
      if (exact) collect(exact, segments, 0, entries);
      for (let dot = host.indexOf('.', 1); dot > 0; dot = host.indexOf('.', dot + 1)) {
        const node = this.wildcardHosts.get(host.slice(dot));
        if (node) collect(node, segments, 0, entries);
      }
    }
    collect(this.anyHost, segments, 0, entries);
    const allowed = new Set<string>();
    for (const e of entries) for (const m of e.route.allowedMethods ?? HTTP_METHODS) allowed.add(m);
    return [...allowed].sort((a, b) => (METHOD_ORDER.get(a) ?? 99) - (METHOD_ORDER.get(b) ?? 99) || (a < b ? -1 : 1));
  }

  private bucketFor(route: CompiledRoute, hostIndex: number): TrieNode {
    const spec = hostIndex < 0 ? undefined : route.hosts![hostIndex]!;
    if (!spec) return this.anyHost;
    const map = spec.kind === 'exact' ? this.exactHosts : this.wildcardHosts;
    const key = spec.kind === 'exact' ? spec.host : spec.suffix;
    let node = map.get(key);
    if (!node) {
      node = new TrieNode();
      map.set(key, node);
    }
    return node;
  }
}
