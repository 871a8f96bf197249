import { isIPv4, isIPv6 } from 'node:net';

/**
 * IP addresses as bytes, so that one representation is used for trust decisions and
 * rate-limit keys: `::ffff:10.0.0.1` (what a dual-stack socket reports) and `10.0.0.1`
 * must be the same client, and `2001:DB8:0::1` the same as `2001:db8::1`.
 */
export interface IpAddress {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. IPv4-mapped IPv6 addresses are stored as IPv4. */
  readonly bytes: Uint8Array;
}

/**
 * Parses one address as found on a socket or in an X-Forwarded-For entry: plain IPv4,
 * IPv6 (with or without brackets, zone id dropped), IPv4-mapped IPv6, and an optional
 * port (`1.2.3.4:80`, `[::1]:80`) that some proxies append. Returns undefined for
 * anything else (`unknown`, hostnames, garbage).
 */
export function parseIp(text: string): IpAddress | undefined {
  let s = text.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    const after = s.slice(end + 1);
    if (end < 0 || (after !== '' && !/^:\d{1,5}$/.test(after))) return undefined;
    s = s.slice(1, end);
  } else {
    // Exactly one colon can only be "v4:port"; IPv6 has at least two.
    const colon = s.indexOf(':');
    if (colon > 0 && colon === s.lastIndexOf(':') && /^\d{1,5}$/.test(s.slice(colon + 1))) s = s.slice(0, colon);
  }
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (isIPv4(s)) return { family: 4, bytes: parseV4(s) };
  if (!isIPv6(s)) return undefined;
  const bytes = parseV6(s);
  if (isV4Mapped(bytes)) return { family: 4, bytes: bytes.slice(12) };
  return { family: 6, bytes };
}

function parseV4(s: string): Uint8Array {
  return Uint8Array.from(s.split('.'), Number);
}

function parseV6(s: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = s;
  // An embedded dotted tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) fills the last 4 bytes.
  let tail: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tail = parseV4(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups =
    rest === undefined
      ? headGroups
      : [...headGroups, ...new Array<string>(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups];
  for (let i = 0; i < 8; i++) {
    const v = Number.parseInt(groups[i] ?? '0', 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Dotted IPv4, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return Array.prototype.join.call(ip.bytes, '.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The address with every bit after `prefixLength` cleared. */
export function maskIp(ip: IpAddress, prefixLength: number): IpAddress {
  const bytes = ip.bytes.slice();
  for (let bit = prefixLength; bit < bytes.length * 8; bit++) {
    bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  }
  return { family: ip.family, bytes };
}

/** A network: an address and a prefix length. */
export interface Cidr {
  readonly network: IpAddress;
  readonly prefixLength: number;
}

/** `10.0.0.0/8`, `fd00::/8`, `::ffff:10.0.0.0/104`, or a bare address (one host). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!addr) return undefined;
  const max = addr.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    // An IPv4-mapped network written in IPv6 notation counts its prefix over 128 bits.
    const written6 = text.slice(0, slash).includes(':');
    if (addr.family === 4 && written6) {
      if (prefix < 96 || prefix > 128) return undefined;
      prefix -= 96;
    } else if (prefix > max) return undefined;
  }
  return { network: maskIp(addr, prefix), prefixLength: prefix };
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.network.family !== ip.family) return false;
  const full = cidr.prefixLength >> 3;
  for (let i = 0; i < full; i++) if (cidr.network.bytes[i] !== ip.bytes[i]) return false;
  const rem = cidr.prefixLength & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (cidr.network.bytes[full]! & mask) === (ip.bytes[full]! & mask);
}
