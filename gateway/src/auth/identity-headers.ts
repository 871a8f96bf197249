import type { IncomingHttpHeaders } from 'node:http';
import { InvalidOptionsError } from '@switchyard/broker';
import { AUTH_HEADER } from '@switchyard/sdk';
import type { Identity } from './identity.js';

/**
 * Headers that carry the verified identity to the upstream. Whatever a client sends
 * under these names is always removed first, on every route, so an upstream can trust
 * them (as long as it is reachable only through the gateway).
 */
export const IDENTITY_HEADERS = Object.freeze({
  /** `jwt`, `api-key` or `anonymous`. */
  auth: 'x-switchyard-auth',
  /** The subject (`sub`), printable ASCII. Absent for anonymous callers. */
  subject: 'x-switchyard-subject',
  /** Granted scopes, space-separated. Absent when there are none. */
  scopes: 'x-switchyard-scopes',
  /** base64url(JSON) of the forwarded claims (see forwardClaims). Absent when none apply. */
  claims: 'x-switchyard-claims',
});

export const IDENTITY_HEADER_NAMES: readonly string[] = Object.freeze(Object.values(IDENTITY_HEADERS));

/** Claims copied into `x-switchyard-claims` by default. */
export const DEFAULT_FORWARD_CLAIMS: readonly string[] = Object.freeze([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'client_id',
]);

/** What the header functions need of a request: node:http's IncomingMessage fits. */
export interface HeaderCarrier {
  headers: IncomingHttpHeaders;
  /** Kept in step when present, for proxies that forward raw headers. */
  rawHeaders?: string[];
}

/** Remove headers (lower-case names) from a request, whatever case they were sent in. */
export function removeHeaders(req: HeaderCarrier, names: ReadonlySet<string>): void {
  const h = req.headers;
  let found = false;
  for (const k in h) {
    // node's keys are lower-case already (no copy made); an object built by hand may not be.
    if (names.has(k.toLowerCase())) {
      delete h[k];
      found = true;
    }
  }
  // The raw list holds the same headers: nothing to do there when the object had none of them.
  const raw = req.rawHeaders;
  if (!found || raw === undefined) return;
  let w = 0;
  for (let r = 0; r + 1 < raw.length; r += 2) {
    if (names.has(raw[r]!.toLowerCase())) continue;
    raw[w++] = raw[r]!;
    raw[w++] = raw[r + 1]!;
  }
  raw.length = w;
}

// Service-identity headers too: only the gateway itself may put tokens there (docs/protocol.md §7).
const strippedIdentity = new Set([...IDENTITY_HEADER_NAMES, AUTH_HEADER.serviceToken, AUTH_HEADER.userToken]);

/** Remove client-sent identity headers (anti-spoofing). */
export function stripIdentityHeaders(req: HeaderCarrier): void {
  removeHeaders(req, strippedIdentity);
}

/** Computes (once per identity) and writes identity headers. */
export class IdentityHeaderWriter {
  readonly forwardClaims: readonly string[];
  // Identities are frozen and shared by the token cache: headers are built once per token.
  readonly #memo = new WeakMap<Identity, ReadonlyArray<readonly [string, string]>>();

  constructor(forwardClaims: readonly string[] = DEFAULT_FORWARD_CLAIMS) {
    if (!Array.isArray(forwardClaims) || !forwardClaims.every((c) => typeof c === 'string' && c !== '')) {
      throw new InvalidOptionsError('forwardClaims must be an array of claim names', {
        details: { option: 'forwardClaims' },
      });
    }
    this.forwardClaims = Object.freeze([...forwardClaims]);
  }

  /** The identity headers for `identity`, as [name, value] pairs. */
  headersFor(identity: Identity): ReadonlyArray<readonly [string, string]> {
    let out = this.#memo.get(identity);
    if (out === undefined) {
      const list: [string, string][] = [[IDENTITY_HEADERS.auth, identity.method]];
      if (identity.subject !== undefined) list.push([IDENTITY_HEADERS.subject, identity.subject]);
      if (identity.scopes.length > 0) list.push([IDENTITY_HEADERS.scopes, identity.scopes.join(' ')]);
      const selected: Record<string, unknown> = {};
      let any = false;
      for (const c of this.forwardClaims) {
        if (Object.hasOwn(identity.claims, c)) {
          selected[c] = identity.claims[c];
          any = true;
        }
      }
      if (any) list.push([IDENTITY_HEADERS.claims, Buffer.from(JSON.stringify(selected)).toString('base64url')]);
      out = Object.freeze(list);
      this.#memo.set(identity, out);
    }
    return out;
  }

  /** Set the identity headers on a request (after stripIdentityHeaders). */
  apply(req: HeaderCarrier, identity: Identity): void {
    for (const [name, value] of this.headersFor(identity)) {
      req.headers[name] = value;
      req.rawHeaders?.push(name, value);
    }
  }
}

/** Decode an `x-switchyard-claims` value (for upstream services written in TypeScript). */
export function decodeClaimsHeader(value: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Record<string, unknown>;
}
