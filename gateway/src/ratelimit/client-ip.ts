import type { IncomingMessage } from 'node:http';
import { InvalidOptionsError } from '@switchyard/broker';
import { type Cidr, cidrContains, formatIp, type IpAddress, parseCidr, parseIp } from './ip-address.js';

/**
 * Which proxies in front of the gateway may tell it the client's address.
 *
 * - `false` (default): nobody. X-Forwarded-For is ignored; the client is the socket peer.
 * - a number `n`: exactly `n` proxies stand in front of the gateway (the socket peer is
 *   the first); the client is the address the `n`th proxy saw.
 * - a list of networks (`10.0.0.0/8`, `fd00::/8`, a bare address, or one of the names
 *   `loopback`, `linklocal`, `uniquelocal`): any hop inside them is a proxy; the client
 *   is the first address, reading right to left, that is not.
 *
 * `true` (trust every hop) is not offered: it lets any client choose its own address.
 */
export type TrustProxy = false | number | readonly string[];

const NAMED_NETWORKS: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** What the client address is when the socket has none (already closed). */
export const UNKNOWN_CLIENT_IP = 'unknown';

/**
 * Finds the client address of a request, honouring the trusted-proxy setting. Compiled
 * once from the setting; `resolve()` is called per request and does no allocation beyond
 * splitting the header.
 */
export class ClientIpResolver {
  readonly #hops: number;
  readonly #networks: readonly Cidr[] | undefined;

  constructor(trustProxy: TrustProxy = false) {
    if (trustProxy === false) {
      this.#hops = 0;
      this.#networks = undefined;
    } else if (typeof trustProxy === 'number') {
      if (!Number.isInteger(trustProxy) || trustProxy < 0) {
        throw new InvalidOptionsError(
          `trustProxy: must be false, a hop count >= 0 or a list of networks, got ${trustProxy}`,
        );
      }
      this.#hops = trustProxy;
      this.#networks = undefined;
    } else if (Array.isArray(trustProxy)) {
      const networks: Cidr[] = [];
      for (const entry of trustProxy as readonly unknown[]) {
        const texts =
          typeof entry !== 'string' ? [] : Object.hasOwn(NAMED_NETWORKS, entry) ? NAMED_NETWORKS[entry]! : [entry];
        const cidrs = texts.map(parseCidr);
        if (cidrs.length === 0 || cidrs.includes(undefined)) {
          throw new InvalidOptionsError(`trustProxy: ${JSON.stringify(entry)} is not an address or network`);
        }
        networks.push(...(cidrs as Cidr[]));
      }
      this.#hops = 0;
      this.#networks = networks;
    } else {
      throw new InvalidOptionsError(
        `trustProxy: must be false, a hop count >= 0 or a list of networks, got ${JSON.stringify(trustProxy)}`,
      );
    }
  }

  /** The client address of a `node:http` request. */
  fromRequest(req: IncomingMessage): string {
    return this.resolve(req.socket.remoteAddress, req.headers['x-forwarded-for']);
  }

  /**
   * The client address, normalised (IPv4 dotted, IPv6 RFC 5952, IPv4-mapped as IPv4).
   * X-Forwarded-For is read right to left: each proxy appends the address it received
   * from, so the rightmost entries are the ones our own proxies wrote and the leftmost
   * ones are whatever the client chose to send. When a trusted hop wrote something that
   * is not an address, the walk stops at the last address known to be real.
   */
  resolve(remoteAddress: string | undefined, forwardedFor: string | readonly string[] | undefined): string {
    const peer = remoteAddress === undefined ? undefined : parseIp(remoteAddress);
    if (!peer) return remoteAddress || UNKNOWN_CLIENT_IP;
    if (forwardedFor === undefined || (this.#hops === 0 && this.#networks === undefined)) return formatIp(peer);
    const header = typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',');
    const entries = header.split(',');

    let current: IpAddress = peer;
    // `hop` counts trusted proxies passed so far; entries[entries.length - hop] is what hop `hop` saw.
    for (let hop = 1; hop <= entries.length; hop++) {
      if (!this.#trusts(current, hop)) break;
      const next = parseIp(entries[entries.length - hop]!);
      if (!next) break;
      current = next;
    }
    return formatIp(current);
  }

  /** Whether `addr`, the `hop`th address from the gateway, is a proxy we trust. */
  #trusts(addr: IpAddress, hop: number): boolean {
    if (this.#networks === undefined) return hop <= this.#hops;
    for (const n of this.#networks) if (cidrContains(n, addr)) return true;
    return false;
  }
}
