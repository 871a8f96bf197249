import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { InternalError } from '@switchyard/broker';
import httpProxy from 'http-proxy';
import type { CircuitState, UpstreamErrorReason } from '../metrics/labels.js';
import { type ExchangeHost, type ForwardRequest, HttpExchange } from './http-exchange.js';
import type { OutlierEvents } from './outlier-detector.js';
import { type ResolvedPoolOptions, resolvePoolOptions, type UpstreamPoolOptions } from './pool-options.js';
import { ServiceUpstreams } from './service-upstreams.js';
import { poolClosed, writeFailure, writeSocketFailure } from './upstream-failure.js';
import type { UpstreamInstanceStats } from './upstream-instance.js';
import {
  type UpgradeCall,
  type UpgradeHost,
  type UpgradeOptions,
  type UpgradeRequest,
  WebSocketUpgrade,
} from './websocket-upgrade.js';

/**
 * How matched requests reach the instances of a service: instance choice (per-route
 * balancer over the registry view's cached instances), keep-alive connections, retries,
 * deadlines, passive health checks with outlier ejection, a circuit breaker per service,
 * header hygiene (hop-by-hop, X-Forwarded-*), streaming (SSE) and WebSocket pass-through.
 *
 * Requests go out on undici (a Pool of keep-alive connections per instance, driven
 * through its dispatch handler API), not through http-proxy / http-proxy-middleware:
 * - the middleware has no per-request options (deadline, replayable body, an error
 *   callback per attempt, which retries need) and awaits an async router per request;
 * - node:http's client under http-proxy is the largest cost of a proxied request.
 *   Measured with `npm run bench -- gateway` on 2 cores (100-byte answers, 64 keep-alive
 *   clients): a bare undici forwarder does ~1.2x the requests/s of bare http-proxy.
 * Responses are handled here, so a 502/503 can be retried before anything reaches the
 * client. WebSocket upgrades still go through http-proxy's `ws` (its `stream` pass only):
 * they are rare, long-lived and need the raw socket handed over.
 */
export class UpstreamPool {
  readonly #o: ResolvedPoolOptions;
  /** For WebSocket upgrades only. */
  readonly #proxy: httpProxy;
  readonly #services = new Map<string, ServiceUpstreams>();
  readonly #upgraded = new Set<Duplex>();
  readonly #exchangeHost: ExchangeHost;
  readonly #upgradeHost: UpgradeHost;
  #inFlight = 0;
  #drained: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: UpstreamPoolOptions) {
    const o = resolvePoolOptions(options);
    this.#o = o;
    this.#proxy = createProxy();
    this.#proxy.on('proxyReqWs', (proxyReq, _req, socket, opts) => {
      try {
        (opts as Partial<UpgradeOptions>).switchyardUpgrade?.requestCreated(proxyReq);
      } catch (err) {
        this.#internalFailure(err, 'proxyReqWs');
        proxyReq.destroy();
        socket.destroy();
      }
    });
    // Every call passes its own error callback; this only sees http-proxy's own misuse errors.
    this.#proxy.on('error', (err) => o.logger.error({ err }, 'upstream: proxy error outside a request'));
    const proxy = this.#proxy;
    this.#exchangeHost = {
      options: o,
      upstreamError: (routeId, reason) => this.#upstreamError(routeId, reason),
      internalFailure: (err, where) => this.#internalFailure(err, where),
      exchangeEnded: () => this.#exchangeEnded(),
    };
    this.#upgradeHost = {
      options: o,
      sendUpgrade: (req, socket, head, opts, onError) => proxy.ws(req, socket, head, opts, onError),
      upstreamError: (routeId, reason) => this.#upstreamError(routeId, reason),
      track: (client, upstream) => this.#track(client, upstream),
    };
  }

  /** Idempotent. Follows the view's changes, so instance counts and balancers update eagerly. */
  async start(): Promise<void> {
    if (this.#closed) return;
    this.#unsubscribe ??= this.#o.view.onChange((service) => {
      try {
        this.#services.get(service)?.refresh();
      } catch (err) {
        this.#o.logger.error({ err, service }, 'upstream: refreshing instances failed');
      }
    });
  }

  /**
   * Idempotent. New requests get 503 (CLOSED); requests in flight may finish for up to
   * `drainTimeoutMs`; then WebSocket connections are cut and the instances' connections
   * destroyed.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
      if (this.#inFlight > 0 && this.#o.drainTimeoutMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          this.#drained = resolve;
          timer = setTimeout(resolve, this.#o.drainTimeoutMs);
        });
        clearTimeout(timer);
        this.#drained = undefined;
      }
      for (const s of this.#upgraded) s.destroy();
      this.#upgraded.clear();
      for (const svc of this.#services.values()) svc.destroy();
      this.#proxy.removeAllListeners();
    })();
    return this.#closing;
  }

  /**
   * Proxies one request to an instance of the route's service and writes the response:
   * the upstream's, or a JSON error (503 no instance / circuit open / connect failure,
   * 502 broken upstream answer, 504 deadline). Never rejects; resolves when the client's
   * response has closed.
   */
  forward(f: ForwardRequest): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#closed) {
        writeFailure(f.res, poolClosed(), f.requestId);
        resolve();
        return;
      }
      const target = f.route.target;
      if (target.type !== 'http') {
        writeFailure(f.res, { error: new InternalError(`route ${f.route.id} does not proxy over HTTP`) }, f.requestId);
        resolve();
        return;
      }
      const svc = this.#service(target.service);
      this.#noteRoute(svc, f.route.id);
      this.#inFlight++;
      try {
        new HttpExchange(this.#exchangeHost, f, svc, resolve).start();
      } catch (err) {
        // A bug of ours: still answer the client and keep the counts right.
        this.#o.logger.error({ err, route: f.route.id }, 'upstream: forward failed');
        if (!f.res.destroyed)
          writeFailure(f.res, { error: new InternalError('internal error', { cause: err }) }, f.requestId);
        resolve();
      }
    });
  }

  /**
   * Passes a WebSocket upgrade (the server's `upgrade` event) through to an instance.
   * `req`, `socket` and `head` are the event's arguments; `f` carries the route and the
   * rest (its own req/socket/head are the same objects).
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, f: UpgradeRequest): void {
    const request: UpgradeCall = { ...f, req, socket, head };
    if (this.#closed) {
      writeSocketFailure(socket, poolClosed(), f.requestId);
      return;
    }
    const target = f.route.target;
    if (target.type !== 'http') {
      writeSocketFailure(
        socket,
        { error: new InternalError(`route ${f.route.id} does not proxy over HTTP`) },
        f.requestId,
      );
      return;
    }
    const svc = this.#service(target.service);
    this.#noteRoute(svc, f.route.id);
    try {
      new WebSocketUpgrade(this.#upgradeHost, request, svc).start();
    } catch (err) {
      this.#o.logger.error({ err, route: f.route.id }, 'upstream: upgrade failed');
      socket.destroy();
    }
  }

  /** Per-instance load, latency and health of a service (its current instances). */
  stats(service: string): UpstreamInstanceStats[] {
    const svc = this.#service(service);
    svc.refresh();
    return svc.stats();
  }

  /** The circuit state of a service (`closed` when circuit breaking is off). */
  circuitState(service: string): CircuitState {
    return this.#services.get(service)?.breaker?.state ?? 'closed';
  }

  /** Requests being proxied now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  #service(name: string): ServiceUpstreams {
    let svc = this.#services.get(name);
    if (svc === undefined) {
      svc = new ServiceUpstreams(name, {
        options: this.#o,
        onInstances: (service, count) => this.#o.metrics?.setInstances(service, count),
        outlierEvents: (service) => this.#outlierEvents(service),
        onCircuitState: (upstreams, state) => this.#circuitChanged(upstreams, state),
      });
      this.#services.set(name, svc);
    }
    return svc;
  }

  #noteRoute(svc: ServiceUpstreams, routeId: string): void {
    if (svc.routes.has(routeId)) return;
    svc.routes.add(routeId);
    this.#o.metrics?.setCircuitState(routeId, svc.name, svc.breaker?.state ?? 'closed');
  }

  #outlierEvents(service: string): OutlierEvents {
    const logger = this.#o.logger;
    return {
      ejected: (instance, forMs) =>
        logger.warn(
          { service, instance: instance.id, url: instance.url, forMs, ejections: instance.ejections },
          'upstream: instance ejected after consecutive failures',
        ),
      returned: (instance) =>
        logger.info({ service, instance: instance.id, url: instance.url }, 'upstream: instance back in rotation'),
    };
  }

  #circuitChanged(svc: ServiceUpstreams, state: CircuitState): void {
    const log = state === 'open' ? this.#o.logger.warn : this.#o.logger.info;
    log.call(this.#o.logger, { service: svc.name, state }, `upstream: circuit of ${svc.name} is ${state}`);
    const metrics = this.#o.metrics;
    if (metrics !== undefined) for (const routeId of svc.routes) metrics.setCircuitState(routeId, svc.name, state);
  }

  #internalFailure(err: unknown, where: string): void {
    this.#o.logger.error({ err, where }, 'upstream: internal error while proxying; the exchange was cut');
  }

  #upstreamError(routeId: string, reason: UpstreamErrorReason): void {
    this.#o.metrics?.upstreamError(routeId, reason);
  }

  #exchangeEnded(): void {
    this.#inFlight--;
    if (this.#inFlight === 0) this.#drained?.();
  }

  #track(client: Duplex, upstream: Duplex): void {
    if (this.#closed) {
      client.destroy();
      upstream.destroy();
      return;
    }
    this.#upgraded.add(client);
    this.#upgraded.add(upstream);
    // A WebSocket has no use for a half-closed TCP connection: when one side is gone, so is the other
    // (http-proxy's pipes only pass the end on, which leaves both sockets half-open when a peer vanishes).
    const forget = () => {
      this.#upgraded.delete(client);
      this.#upgraded.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', forget);
    upstream.once('close', forget);
  }
}

/**
 * http-proxy for upgrades, with only its method check and `stream` passes: its
 * X-Forwarded pass is replaced by ours, and no plain request goes through it.
 */
function createProxy(): httpProxy {
  const proxy = httpProxy.createProxyServer({});
  const passes = proxy as unknown as { webPasses: { name: string }[]; wsPasses: { name: string }[] };
  const ws = passes.wsPasses.filter((p) => p.name === 'checkMethodAndHeader' || p.name === 'stream');
  if (ws.length !== 2) {
    throw new InternalError('http-proxy: its upgrade passes are not the ones this gateway was written for');
  }
  passes.webPasses = [];
  passes.wsPasses = ws;
  return proxy;
}
