import { createHash } from 'node:crypto';
import { formatIp, maskIp, parseIp } from './ip-address.js';
import type { RateLimitKeyKind } from './policy.js';

/** Who is asking, as far as the pipeline knows at the rate-limit step. */
export interface RateLimitIdentity {
  /** Client address, from ClientIpResolver (already trusted-proxy aware). */
  ip: string;
  /** Authenticated subject (e.g. JWT `sub`), if the request was authenticated. */
  subject?: string | undefined;
  /** The API key presented, if any. */
  apiKey?: string | undefined;
}

/** Default IPv6 prefix an IP-keyed limit counts per: one customer site gets a /64 (or more). */
export const DEFAULT_IPV6_PREFIX_LENGTH = 64;

/**
 * The counter key for a request. Kinds get distinct prefixes so a subject named like an
 * address never shares a counter with it. A request without the asked-for credential
 * (anonymous on a subject-keyed route) is counted per IP rather than not at all.
 *
 * API keys are hashed: keys end up in Redis, where anyone running MONITOR would read them.
 * IPv6 clients are counted per prefix, since one host usually holds a whole /64 and
 * could otherwise rotate addresses to escape the limit.
 */
export function rateLimitKey(
  kind: RateLimitKeyKind,
  identity: RateLimitIdentity,
  ipv6PrefixLength = DEFAULT_IPV6_PREFIX_LENGTH,
): string {
  if (kind === 'subject' && identity.subject) return `sub:${identity.subject}`;
  if (kind === 'apiKey' && identity.apiKey) {
    return `key:${createHash('sha256').update(identity.apiKey).digest('base64url').slice(0, 22)}`;
  }
  return `ip:${ipKey(identity.ip, ipv6PrefixLength)}`;
}

function ipKey(ip: string, ipv6PrefixLength: number): string {
  if (!ip.includes(':') || ipv6PrefixLength >= 128) return ip;
  const parsed = parseIp(ip);
  if (!parsed || parsed.family === 4) return parsed ? formatIp(parsed) : ip;
  return `${formatIp(maskIp(parsed, ipv6PrefixLength))}/${ipv6PrefixLength}`;
}
