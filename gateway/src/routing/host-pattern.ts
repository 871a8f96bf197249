/**
 * Host matching. Route hosts are lower-case names (`api.example.com`) or a leading
 * wildcard (`*.example.com`, which matches any name ending in `.example.com` at any
 * depth, but not `example.com` itself). Request hosts are compared after
 * `normalizeHost`: lower-cased, port and trailing dot removed.
 */

export type HostSpec =
  | { readonly kind: 'exact'; readonly host: string }
  /** `suffix` includes the leading dot: `*.example.com` -> `.example.com`. */
  | { readonly kind: 'wildcard'; readonly suffix: string };

/** A route host, already validated by the route schema. */
export function parseHostPattern(pattern: string): HostSpec {
  return pattern.startsWith('*.') ? { kind: 'wildcard', suffix: pattern.slice(1) } : { kind: 'exact', host: pattern };
}

/** Lower-case, without port or trailing dot; '' for a missing or empty Host. */
export function normalizeHost(host: string | undefined): string {
  if (host === undefined || host.length === 0) return '';
  // Fast path: already a bare lower-case name without port or trailing dot.
  let plain = true;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e)) {
      plain = false;
      break;
    }
  }
  if (plain && host.charCodeAt(host.length - 1) !== 0x2e) return host;
  let h = host.toLowerCase();
  if (h.startsWith('[')) {
    // IPv6 literal: keep the brackets, drop the port
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}
