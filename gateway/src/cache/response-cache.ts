import type { IncomingHttpHeaders } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Identity } from '../auth/identity.js';
import type { CompiledRoute } from '../routing/route-compiler.js';
import type { ResponseRecorder } from '../upstream/http-exchange.js';
import { deltaSeconds, parseCacheControl } from './cache-control.js';

/** A stored response: the upstream's end-to-end headers and the whole body. */
export interface CachedResponse {
  readonly status: number;
  readonly statusText: string;
  /** Flat name/value list, as relayed. */
  readonly headers: readonly string[];
  readonly body: Buffer;
  readonly storedAt: number;
  readonly expiresAt: number;
}

/** What the pipeline does with one request on a caching route. */
export interface CachePlan {
  /** Keys to look up, in order (the shared one first when there is a per-principal one). */
  readonly lookup: readonly string[];
  /** Where a response to this request may be stored: shared (public) and, for a caller with credentials, per principal. */
  readonly sharedKey: string;
  readonly privateKey: string | undefined;
  /** Store the response (false when the client said no-store). */
  readonly store: boolean;
}

export const DEFAULT_CACHE_MAX_BODY_BYTES = 1_048_576;
/** Statuses RFC 9110 §15.1 calls heuristically cacheable, less 206 (ranges are not cached) and 405/414/501 (rare on GET). */
const CACHEABLE_STATUS = new Set([200, 203, 204, 300, 301, 308, 404, 410]);

/**
 * The gateway's response cache for routes with `cache`: GET and HEAD, in this process's
 * memory (an LRU bounded in bytes), keyed by route, path, query and the route's `vary`
 * headers. It follows what a shared cache must do (RFC 9111): a response marked no-store,
 * private or no-cache, one that sets a cookie, or one that varies on a header the route
 * does not key on, is relayed and not stored; a request with credentials bypasses the
 * cache unless the route sets `authenticated`, and then is served per principal unless
 * the upstream said `public`. A HEAD is answered from a stored GET.
 */
export class ResponseCache {
  readonly #entries: LRUCache<string, CachedResponse>;
  #now: () => number;

  constructor(options: { maxBytes: number; now?: () => number }) {
    this.#now = options.now ?? Date.now;
    this.#entries = new LRUCache<string, CachedResponse>({
      maxSize: options.maxBytes,
      sizeCalculation: (e) => Math.max(1, e.body.length + e.headers.reduce((n, h) => n + h.length, 0)),
    });
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Undefined when this request must go past the cache altogether. */
  plan(
    route: CompiledRoute,
    req: { method?: string | undefined; headers: IncomingHttpHeaders },
    path: string,
    query: string,
    identity: Identity,
  ): CachePlan | undefined {
    const cache = route.cache;
    if (cache === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return undefined;
    const credentials = identity.subject !== undefined || req.headers.authorization !== undefined;
    if (credentials && cache.authenticated !== true) return undefined;
    const cc = parseCacheControl(req.headers['cache-control']);
    if (cc.has('no-store')) return undefined;
    const revalidate = cc.has('no-cache') || deltaSeconds(cc, 'max-age') === 0 || req.headers.pragma === 'no-cache';
    let sharedKey = `${route.id}\n${path}\n${query}`;
    for (const h of cache.vary ?? []) {
      const v = req.headers[h];
      sharedKey += `\n${Array.isArray(v) ? v.join(',') : (v ?? '')}`;
    }
    const privateKey = credentials ? `${sharedKey}\n@${identity.subject ?? req.headers.authorization}` : undefined;
    const lookup = revalidate ? [] : privateKey ? [sharedKey, privateKey] : [sharedKey];
    return { lookup, sharedKey, privateKey, store: true };
  }

  /** A fresh stored response for the plan, with its age in seconds. */
  lookup(plan: CachePlan): { entry: CachedResponse; ageSeconds: number } | undefined {
    const now = this.#now();
    for (const key of plan.lookup) {
      const entry = this.#entries.get(key);
      if (entry === undefined) continue;
      if (entry.expiresAt <= now) {
        this.#entries.delete(key);
        continue;
      }
      return { entry, ageSeconds: Math.floor((now - entry.storedAt) / 1000) };
    }
    return undefined;
  }

  /** A recorder that stores the response when it may be stored, or undefined when the plan stores nothing. */
  recorder(route: CompiledRoute, plan: CachePlan): ResponseRecorder | undefined {
    const cache = route.cache;
    if (cache === undefined || !plan.store) return undefined;
    let key: string | undefined;
    let head: Omit<CachedResponse, 'body'> | undefined;
    return {
      begin: (status, statusText, headers) => {
        const ttl = this.#freshness(status, headers, cache, plan.privateKey !== undefined);
        if (ttl === undefined) return undefined;
        key = ttl.shared ? plan.sharedKey : plan.privateKey;
        const now = this.#now();
        head = { status, statusText, headers, storedAt: now, expiresAt: now + ttl.seconds * 1000 };
        return cache.maxBodyBytes ?? DEFAULT_CACHE_MAX_BODY_BYTES;
      },
      end: (body) => {
        if (key !== undefined && head !== undefined) this.#entries.set(key, { ...head, body });
      },
    };
  }

  /** How long the response may be served, and whether to every caller; undefined: not stored. */
  #freshness(
    status: number,
    headers: readonly string[],
    cache: NonNullable<CompiledRoute['cache']>,
    withCredentials: boolean,
  ): { seconds: number; shared: boolean } | undefined {
    if (!CACHEABLE_STATUS.has(status)) return undefined;
    let cacheControl: string | undefined;
    let vary: string | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!.toLowerCase();
      const value = headers[i + 1]!;
      if (name === 'set-cookie') return undefined;
      if (name === 'cache-control') cacheControl = cacheControl === undefined ? value : `${cacheControl},${value}`;
      else if (name === 'vary') vary = vary === undefined ? value : `${vary},${value}`;
    }
    const cc = parseCacheControl(cacheControl);
    if (cc.has('no-store') || cc.has('private') || cc.has('no-cache')) return undefined;
    if (vary !== undefined) {
      const keyed = new Set(cache.vary ?? []);
      for (const h of vary.split(',')) {
        const name = h.trim().toLowerCase();
        if (name === '*' || (name !== '' && !keyed.has(name))) return undefined;
      }
    }
    const seconds = deltaSeconds(cc, 's-maxage') ?? deltaSeconds(cc, 'max-age') ?? cache.ttlSeconds;
    if (seconds <= 0) return undefined;
    // RFC 9111 §3.5: a response to a request with credentials is shared only when the origin says so.
    const shared = !withCredentials || cc.has('public') || cc.has('s-maxage');
    return { seconds, shared };
  }
}
