import type { Pool } from 'undici';

/** A registered address, parsed once (the connections' origin, the Host header, http-proxy's WebSocket target). */
export interface ProxyTarget {
  readonly protocol: 'http:' | 'https:';
  /** Without IPv6 brackets: what `net.connect` takes. */
  readonly hostname: string;
  readonly host: string;
  readonly port: string;
  /** A base path the instance registered (`http://h:p/base`), '' for none. */
  readonly path: string;
}

/** What `UpstreamPool.stats()` reports per instance. */
export interface UpstreamInstanceStats {
  readonly id: string;
  readonly url: string;
  /** Requests sent and not finished. */
  readonly outstanding: number;
  /** Decayed average time to response headers, ms (what p2c-latency compares). 0 before any sample. */
  readonly ewmaLatencyMs: number;
  /** Epoch ms the ejection ends; 0 when not ejected. Past but non-zero: waiting for its probe. */
  readonly ejectedUntil: number;
  /** Consecutive failures. */
  readonly failures: number;
  /** Times ejected since it last stayed healthy for maxEjectMs. */
  readonly ejections: number;
}

/**
 * One instance of a service and everything the gateway learns about it: load
 * (outstanding), latency (a time-decayed peak EWMA) and health (consecutive failures,
 * ejection). Mutable on purpose: it is updated on every request, and replaced (state
 * reset) when the registry record changes address.
 */
export class UpstreamInstance {
  readonly id: string;
  readonly url: string;
  readonly target: ProxyTarget;
  /** The Host header sent when the pool does not preserve the client's. */
  readonly hostHeader: string;
  /** Keep-alive connections to this instance; closed by `retire()` when it leaves the registry. */
  readonly connections: Pool;
  readonly #decayMs: number;

  outstanding = 0;
  consecutiveFailures = 0;
  /** Epoch ms; 0: in rotation. */
  ejectedUntil = 0;
  ejections = 0;
  /** Epoch ms of the last return to rotation (after a successful probe). */
  returnedAt = 0;
  /** A half-open probe request is in flight: nothing else is sent until it answers. */
  probing = false;

  #ewma = 0;
  /** performance.now() of the last sample; -1: none yet. */
  #sampledAt = -1;

  constructor(id: string, url: string, target: ProxyTarget, connections: Pool, decayMs: number) {
    this.id = id;
    this.url = url;
    this.target = target;
    this.hostHeader = target.host;
    this.connections = connections;
    this.#decayMs = decayMs;
  }

  /**
   * Latency as p2c-latency compares it: the average decays towards 0 while no sample
   * comes in, so an instance that lost every comparison (and so got no traffic to prove
   * it recovered) is eventually tried again.
   */
  latency(now: number): number {
    if (this.#sampledAt < 0) return 0;
    const idle = now - this.#sampledAt;
    return idle <= 0 ? this.#ewma : this.#ewma * Math.exp(-idle / this.#decayMs);
  }

  /**
   * Peak EWMA (as in Finagle): a slower sample is taken at once, so a slowdown steers
   * traffic away immediately; faster samples pull the average down with a weight that
   * grows with the time since the previous sample.
   */
  observeLatency(ms: number, now: number): void {
    if (ms >= this.#ewma || this.#sampledAt < 0) {
      this.#ewma = ms;
    } else {
      const w = Math.exp(-Math.max(0, now - this.#sampledAt) / this.#decayMs);
      this.#ewma = this.#ewma * w + ms * (1 - w);
    }
    this.#sampledAt = now;
  }

  /** Gone from the registry: requests in flight finish, then its connections close. */
  retire(): void {
    this.connections.close().catch(() => {});
  }

  /** The upstream pool closes after its drain: cut its connections now (requests still in flight fail). */
  destroy(): void {
    this.connections.destroy().catch(() => {});
  }

  stats(now: number): UpstreamInstanceStats {
    return {
      id: this.id,
      url: this.url,
      outstanding: this.outstanding,
      ewmaLatencyMs: this.latency(now),
      ejectedUntil: this.ejectedUntil,
      failures: this.consecutiveFailures,
      ejections: this.ejections,
    };
  }
}

/** The parsed target of a registered `address.http`; undefined when it is not a usable http(s) URL. */
export function proxyTargetOf(address: string): ProxyTarget | undefined {
  let u: URL;
  try {
    u = new URL(address);
  } catch {
    return undefined;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') return undefined;
  const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
  return Object.freeze({ protocol: u.protocol, hostname, host: u.host, port: u.port, path });
}
