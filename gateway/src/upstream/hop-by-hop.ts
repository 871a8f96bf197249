import type { IncomingHttpHeaders } from 'node:http';

/**
 * Headers that describe one connection, not the message (RFC 9110 7.6.1), plus `expect`
 * (the gateway has answered the client's 100-continue itself) and `http2-settings`.
 * `transfer-encoding` is re-applied by Node on each side from how the body is framed.
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'http2-settings',
]);

/**
 * Names a client may not remove by listing them in `Connection`: the message framing and
 * the identity headers the gateway writes (listing `x-switchyard-subject` must not strip
 * what the auth layer set).
 */
function isProtected(name: string): boolean {
  return name === 'host' || name === 'content-length' || name.startsWith('x-switchyard-');
}

function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-');
}

/**
 * The headers of a request to forward: all but the hop-by-hop ones (the fixed set, every
 * `proxy-*` header, and every header named in `Connection` except protected ones).
 * `Upgrade` and `Connection` go too; the WebSocket path puts back its own. A new object:
 * deleting from node's header object would turn it into a slow dictionary-mode object
 * that http.request then iterates.
 */
export function withoutHopHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  const connection = headers.connection;
  let named: Set<string> | undefined;
  if (connection !== undefined) {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name === '' || isProtected(name) || isHopByHop(name)) continue;
      named ??= new Set();
      named.add(name);
    }
  }
  for (const name in headers) {
    if (isHopByHop(name) || named?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

/**
 * The upstream's response headers (a flat name/value list: node's `rawHeaders` or
 * undici's buffers) as strings, without hop-by-hop ones and without those named in
 * `overridden` (a flat list whose names the gateway writes itself; any case), original
 * case and repeated headers (Set-Cookie) kept.
 */
export function responseHeaderList(raw: readonly (string | Buffer)[], overridden: readonly string[] = []): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i]!);
    const lower = name.toLowerCase();
    if (overridden.length > 0 && namedIn(lower, overridden)) continue;
    if (isHopByHop(lower)) {
      const value = latin1(raw[i + 1]!);
      if (lower === 'connection') connection = connection === undefined ? value : `${connection},${value}`;
      continue;
    }
    out.push(name, latin1(raw[i + 1]!));
  }
  if (connection === undefined) return out;
  // Usually "keep-alive" or "close", already removed; anything else it names goes too.
  const named = new Set<string>();
  for (const token of connection.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && !isHopByHop(name)) named.add(name);
  }
  if (named.size === 0) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!named.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  }
  return kept;
}

/** `lower` is one of the names of a flat name/value list (compared case-insensitively). */
function namedIn(lower: string, list: readonly string[]): boolean {
  for (let i = 0; i < list.length; i += 2) {
    const n = list[i]!;
    if (n.length === lower.length && n.toLowerCase() === lower) return true;
  }
  return false;
}

/** Header bytes as node's parser gives them: one char per byte. */
function latin1(v: string | Buffer): string {
  return typeof v === 'string' ? v : v.toString('latin1');
}
