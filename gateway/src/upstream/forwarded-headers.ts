import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { formatIp, parseIp } from '../ratelimit/ip-address.js';

/**
 * Writes the forwarding headers of a request about to be proxied.
 *
 * The gateway writes `X-Forwarded-For`, `-Proto`, `-Host`, `X-Real-IP` and
 * `X-Request-Id`, and removes `Forwarded` (RFC 7239): one convention, the one most
 * frameworks read, and no header a client could have written that an upstream might
 * prefer. What a client sent is only kept when the request came through a trusted proxy
 * (the resolved client address is not the socket peer):
 *
 * - `X-Forwarded-For`: the resolved client address, the trusted hops after it, then the
 *   socket peer. Entries left of the client are dropped, so the upstream can take the
 *   leftmost entry as the client without a trust setting of its own. Without a trusted
 *   proxy it is just the client address, whatever the client sent.
 * - `X-Forwarded-Proto` / `-Host`: the trusted proxy's values when present; else the
 *   gateway's own scheme and the request's Host header.
 */
export function setForwardedHeaders(
  headers: IncomingHttpHeaders,
  req: IncomingMessage,
  clientIp: string,
  requestId: string,
  host: string | undefined,
): void {
  const peer = normalizeIp(req.socket.remoteAddress);
  const viaTrustedProxy = peer !== undefined && peer !== clientIp;
  if (viaTrustedProxy) {
    headers['x-forwarded-for'] = trustedChain(headers['x-forwarded-for'], clientIp, peer);
    headers['x-forwarded-proto'] = firstValue(headers['x-forwarded-proto']) ?? ownProto(req);
    const fwdHost = firstValue(headers['x-forwarded-host']) ?? host;
    if (fwdHost === undefined) delete headers['x-forwarded-host'];
    else headers['x-forwarded-host'] = fwdHost;
  } else {
    headers['x-forwarded-for'] = clientIp;
    headers['x-forwarded-proto'] = ownProto(req);
    if (host === undefined) delete headers['x-forwarded-host'];
    else headers['x-forwarded-host'] = host;
  }
  headers['x-real-ip'] = clientIp;
  headers['x-request-id'] = requestId;
  delete headers.forwarded;
}

function ownProto(req: IncomingMessage): string {
  return (req.socket as TLSSocket).encrypted ? 'https' : 'http';
}

function firstValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
  return s === '' ? undefined : s;
}

function trustedChain(incoming: string | string[] | undefined, clientIp: string, peer: string): string {
  if (incoming !== undefined) {
    const entries = (Array.isArray(incoming) ? incoming.join(',') : incoming).split(',');
    for (let i = entries.length - 1; i >= 0; i--) {
      if (normalizeIp(entries[i]!.trim()) === clientIp) {
        const kept = entries.slice(i).map((e) => e.trim());
        kept.push(peer);
        return kept.join(', ');
      }
    }
  }
  return `${clientIp}, ${peer}`;
}

/** The address as ClientIpResolver writes it (IPv4-mapped IPv6 as IPv4, RFC 5952 IPv6). */
function normalizeIp(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  // Node writes socket addresses canonically: IPv4 as is, IPv4-mapped as ::ffff:a.b.c.d.
  if (!text.includes(':')) return text;
  if (text.startsWith('::ffff:') && text.includes('.', 7)) return text.slice(7);
  const ip = parseIp(text);
  return ip === undefined ? text : formatIp(ip);
}
