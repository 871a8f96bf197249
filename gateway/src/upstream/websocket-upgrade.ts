import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { InvalidArgumentError } from '@switchyard/broker';
import type { UpstreamErrorReason } from '../metrics/labels.js';
import type { ResolvedHttpTarget } from '../routing/route-compiler.js';
import { setForwardedHeaders } from './forwarded-headers.js';
import { withoutHopHeaders } from './hop-by-hop.js';
import { type ForwardRequest, querySuffix } from './http-exchange.js';
import type { ResolvedPoolOptions } from './pool-options.js';
import type { ServiceUpstreams } from './service-upstreams.js';
import {
  circuitOpen,
  classifyError,
  failureResponse,
  metricReason,
  noInstance,
  type UpstreamFailure,
  writeSocketFailure,
} from './upstream-failure.js';
import type { UpstreamInstance } from './upstream-instance.js';

/**
 * A WebSocket upgrade to proxy: the forward request without response and body. `socket`
 * and `head` may be given here too; the `upgrade()` arguments are the ones used (so a
 * ForwardRequest-shaped object fits as well).
 */
export type UpgradeRequest = Omit<ForwardRequest, 'res' | 'body'> & { socket?: Duplex; head?: Buffer };

/** An upgrade with its socket and first bytes. */
export type UpgradeCall = Omit<ForwardRequest, 'res' | 'body'> & { socket: Duplex; head: Buffer };

/** What an upgrade needs from its pool. */
export interface UpgradeHost {
  readonly options: ResolvedPoolOptions;
  /** http-proxy's `ws()`. */
  sendUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    options: UpgradeOptions,
    onError: (err: Error) => void,
  ): void;
  upstreamError(routeId: string, reason: UpstreamErrorReason): void;
  /** An upgraded pair of sockets, cut when the pool closes. */
  track(client: Duplex, upstream: Duplex): void;
}

/** http-proxy's per-request options, plus the upgrade they belong to (read back in its `proxyReqWs` event). */
export interface UpgradeOptions {
  target: UpstreamInstance['target'];
  /** A dedicated connection: an upgraded socket never goes back to a pool. */
  agent: false;
  toProxy: true;
  /** For `https:` instances: the pool's `tls` settings (http-proxy's names). */
  secure?: boolean;
  ca?: string;
  switchyardUpgrade: WebSocketUpgrade;
}

/**
 * One WebSocket upgrade, passed through to an instance: http-proxy sends the handshake
 * on a dedicated connection and, on 101, pipes the two sockets together; any other answer
 * is relayed as is. The handshake is bounded by the route's deadline and counts for
 * the instance's health and the service's circuit; there is no retry (http-proxy ends the
 * client socket when the upstream handshake fails). Failures are written on the raw
 * socket as the usual JSON error response.
 */
export class WebSocketUpgrade {
  readonly #host: UpgradeHost;
  readonly #f: UpgradeCall;
  readonly #svc: ServiceUpstreams;
  #instance: UpstreamInstance | undefined;
  #probe = false;
  #trial = false;
  #admitted = false;
  #proxyReq: ClientRequest | undefined;
  #connected = false;
  #timer: NodeJS.Timeout | undefined;
  /** The handshake has an outcome (upgraded, answered, failed, or the client left). */
  #settled = false;
  #timeoutMs: number;

  constructor(host: UpgradeHost, f: UpgradeCall, svc: ServiceUpstreams) {
    this.#host = host;
    this.#f = f;
    this.#svc = svc;
    this.#timeoutMs = f.route.timeoutMs ?? host.options.defaultTimeoutMs;
  }

  start(): void {
    const { req, socket, route } = this.#f;
    // Until http-proxy takes over, an error on the client socket must not go unhandled.
    socket.on('error', () => socket.destroy());
    socket.once('close', this.#onClientClose);
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      this.#settled = true;
      this.#write({
        error: new InvalidArgumentError('only WebSocket upgrades (GET with Upgrade: websocket) are proxied'),
      });
      return;
    }
    const svc = this.#svc;
    svc.refresh();
    const admission = svc.breaker?.admit();
    if (admission !== undefined && !admission.ok) {
      this.#settled = true;
      this.#host.upstreamError(route.id, 'circuit_open');
      this.#write(circuitOpen(svc.name, admission.retryAfterMs));
      return;
    }
    this.#admitted = admission !== undefined;
    this.#trial = admission?.trial ?? false;
    const target = route.target as ResolvedHttpTarget;
    const hashValue = target.hashHeader === undefined ? undefined : req.headers[target.hashHeader];
    const hashKey = (Array.isArray(hashValue) ? hashValue[0] : hashValue) || undefined;
    const inst = svc.pick(target.balancer, hashKey, []);
    if (inst === undefined) {
      this.#settled = true;
      this.#release();
      this.#host.upstreamError(route.id, 'no_instance');
      this.#write(noInstance(svc.name));
      return;
    }
    this.#instance = inst;
    this.#probe = svc.outlier.picked(inst);
    inst.outstanding++;
    const host = req.headers.host;
    const headers = withoutHopHeaders(req.headers);
    req.headers = headers;
    headers.connection = 'Upgrade';
    headers.upgrade = 'websocket';
    setForwardedHeaders(headers, req, this.#f.clientIp, this.#f.requestId, host);
    if (!this.#host.options.preserveHost) headers.host = inst.hostHeader;
    this.#timer = setTimeout(this.#onDeadline, this.#timeoutMs);
    const options: UpgradeOptions = { target: inst.target, agent: false, toProxy: true, switchyardUpgrade: this };
    if (inst.target.protocol === 'https:') {
      const tls = this.#host.options.tls;
      options.secure = tls.rejectUnauthorized;
      if (tls.ca !== undefined) options.ca = tls.ca;
    }
    const url = req.url;
    req.url = this.#f.upstreamPath + querySuffix(this.#f.query);
    try {
      this.#host.sendUpgrade(req, socket, this.#f.head, options, this.#onError);
    } finally {
      req.url = url;
    }
  }

  /** Called by the pool's `proxyReqWs` listener, right after the handshake request is created. */
  requestCreated(proxyReq: ClientRequest): void {
    this.#proxyReq = proxyReq;
    if (this.#settled) {
      proxyReq.destroy();
      return;
    }
    proxyReq.once('socket', (s: Socket) => {
      if (!s.connecting) this.#connected = true;
      else s.once('connect', () => (this.#connected = true));
    });
    proxyReq.once('upgrade', (_res: IncomingMessage, upstream: Socket) => {
      if (!this.#settle(true)) return;
      this.#host.track(this.#f.socket, upstream);
    });
    proxyReq.once('response', (res: IncomingMessage) => {
      // Not upgraded: http-proxy relays the answer (a 401, a 404 ...).
      this.#settle(!this.#host.options.health.failureStatuses.has(res.statusCode ?? 502));
    });
  }

  #onError = (err: Error): void => {
    // After a 101 the sockets are piped; a later error just ends them (http-proxy does).
    if (this.#settled) return;
    const kind = classifyError(err, this.#connected, false);
    this.#settle(false);
    this.#host.upstreamError(this.#f.route.id, metricReason(kind));
    this.#write(failureResponse(kind, this.#svc.name, 1, this.#timeoutMs));
  };

  #onDeadline = (): void => {
    this.#timer = undefined;
    if (this.#settled) return;
    this.#settle(false);
    this.#proxyReq?.destroy();
    this.#host.upstreamError(this.#f.route.id, 'timeout');
    this.#write(failureResponse('timeout', this.#svc.name, 1, this.#timeoutMs));
  };

  #onClientClose = (): void => {
    if (this.#settled) return;
    this.#settled = true;
    this.#clearTimer();
    this.#proxyReq?.destroy();
    const inst = this.#instance;
    if (inst !== undefined) {
      inst.outstanding--;
      if (this.#probe) this.#svc.outlier.probeAbandoned(inst);
    }
    this.#release();
  };

  /** Records the handshake's outcome once; false when it already had one. */
  #settle(success: boolean): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#clearTimer();
    const inst = this.#instance!;
    inst.outstanding--;
    if (success) this.#svc.outlier.success(inst, this.#probe);
    else this.#svc.outlier.failure(inst, this.#probe, this.#svc.instances);
    if (this.#admitted) {
      this.#admitted = false;
      this.#svc.breaker?.record(success, this.#trial);
    }
    return true;
  }

  #release(): void {
    if (!this.#admitted) return;
    this.#admitted = false;
    this.#svc.breaker?.abandon(this.#trial);
  }

  #write(failure: UpstreamFailure): void {
    writeSocketFailure(this.#f.socket, failure, this.#f.requestId);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
