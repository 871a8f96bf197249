import cluster from 'node:cluster';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ClosedError, FailedPreconditionError, type Transport } from '@switchyard/broker';
import { createInfrastructure, type Infrastructure, type RegistryView, type TokenClient } from '@switchyard/sdk';
import { type Logger, pino } from 'pino';
import { AuthGuard } from '../auth/auth-guard.js';
import { ResponseCache } from '../cache/response-cache.js';
import { type GatewayOptions, type ResolvedGatewayOptions, resolveGatewayOptions } from '../config/gateway-options.js';
import { CONSOLE_PATH, ConsoleServer } from '../console/console-server.js';
import { ErrorLog } from '../console/error-log.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { OpenApiEndpoint } from '../openapi/openapi-endpoint.js';
import type { ClientIpResolver } from '../ratelimit/client-ip.js';
import { ClusterRateLimitStore } from '../ratelimit/cluster-store.js';
import { RateLimiter } from '../ratelimit/rate-limiter.js';
import type { RateLimitStore } from '../ratelimit/store.js';
import { REDIS_URL_ENV, rateLimitStoreFromEnv } from '../ratelimit/store-from-env.js';
import { EtcdRouteSource } from '../routing/etcd-route-source.js';
import { FileRouteSource } from '../routing/file-route-source.js';
import type { RouteSource } from '../routing/route-source.js';
import { RouteStore } from '../routing/route-store.js';
import { UpstreamPool } from '../upstream/index.js';
import { clientErrorListener } from './client-error.js';
import { ClusterGateway, installWorkerHooks, reportWorkerListening } from './cluster-gateway.js';
import type { Gateway, GatewayAddress } from './gateway-types.js';
import { InFlight } from './in-flight.js';
import { ADMIN_OPENAPI_PATH, createOpsApp, OPENAPI_PATH } from './ops-app.js';
import { type GatewayPhase, ReadinessLatch, type ReadinessReport, readiness } from './readiness.js';
import { RequestPipeline } from './request-pipeline.js';
import { RouteRuntimes } from './route-runtimes.js';
import { RpcBridge } from './rpc-bridge.js';
import { WsBridge } from './ws-bridge.js';

export type { Gateway, GatewayAddress };

/** How long shutdown waits for WebSocket clients to answer the 1001 close before dropping them, ms. */
const WS_SHUTDOWN_GRACE_MS = 2_000;

/**
 * Build a gateway from options and the environment (see `GatewayOptions`). Throws
 * INVALID_OPTIONS naming a bad option or variable at once; nothing is started until
 * `start()`. With `workers` > 1, the process that calls it becomes the cluster primary
 * (admin listener, aggregated metrics, worker supervision) and every worker it forks —
 * running the same script — gets a serving gateway from the same call.
 */
export function createGateway(options: GatewayOptions = {}): Gateway {
  const resolved = resolveGatewayOptions(options);
  if (resolved.workers > 1 && cluster.isPrimary) return new ClusterGateway(resolved, gatewayLogger(resolved));
  return new HttpGateway(resolved);
}

/** Parts that exist only while the gateway runs. */
interface Running {
  infra: Infrastructure;
  ownsInfra: boolean;
  view: RegistryView;
  store: RouteStore;
  routeSource: string;
  pool: UpstreamPool;
  pipeline: RequestPipeline;
  /** WebSocket streams of `stream: websocket` routes. */
  ws: WsBridge;
  server: HttpServer;
  admin: HttpServer | undefined;
  unsubscribe: () => void;
  /** The gateway's own token, when auth is on. */
  tokens: TokenClient | undefined;
  /** What has been current since start (readiness.ts). */
  readiness: ReadinessLatch;
  console: ConsoleServer | undefined;
}

/** A gateway in this process: one public listener, an optional admin listener. */
class HttpGateway implements Gateway {
  readonly logger: Logger;
  /** The application's logger; components log through children of it (`component: ...`). */
  readonly #root: Logger;
  readonly #o: ResolvedGatewayOptions;
  readonly #metrics: GatewayMetrics;
  readonly #guard: AuthGuard;
  readonly #rateLimiter: RateLimiter;
  readonly #clientIp: ClientIpResolver;
  readonly #inFlight = new InFlight();
  /** Errors the gateway answered with, for the console. */
  readonly #errors: ErrorLog | undefined;
  readonly #upgraded = new Set<Duplex>();
  #phase: GatewayPhase = 'starting';
  #running: Running | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(o: ResolvedGatewayOptions) {
    this.#o = o;
    this.#root = rootLogger(o);
    this.logger = this.#root.child({ component: 'gateway' });
    this.#metrics = new GatewayMetrics({ processMetrics: true, ...o.metrics });
    this.#guard = o.auth.guard instanceof AuthGuard ? o.auth.guard : new AuthGuard(o.auth.guard);
    this.#rateLimiter = new RateLimiter({
      ...o.rateLimit,
      store: o.rateLimit.store ?? defaultRateLimitStore(o),
      trustProxy: o.trustProxy,
      metrics: this.#metrics,
      logger: this.#root.child({ component: 'ratelimit' }),
    });
    this.#clientIp = this.#rateLimiter.clientIp;
    this.#errors = o.console === false ? undefined : new ErrorLog(o.console.recentErrors);
  }

  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('gateway is closed'));
    this.#starting ??= this.#start().catch(async (err: unknown) => {
      this.logger.error({ err }, 'gateway: start failed; closing what was started');
      await this.close();
      throw err;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    const o = this.#o;
    const log = this.logger;
    if (o.auth.source === 'dev') {
      log.warn(
        'gateway: accepting DEVELOPMENT tokens (HS256 shared secret); set SWITCHYARD_JWKS_URL for real identity providers',
      );
    } else if (o.auth.source === 'none') {
      log.warn(
        'gateway: no JWKS, dev secret or API keys configured: routes that require authentication cannot be served',
      );
    }
    const ownsInfra = o.infra === undefined;
    const infra = o.infra ?? (await createInfrastructure({ env: o.env, logger: this.#root }));
    const partial: Partial<Running> = { infra, ownsInfra, readiness: new ReadinessLatch() };
    this.#running = partial as Running;

    try {
      await this.#guard.start();
    } catch (err) {
      // An identity provider that is down must not keep the gateway down: requests that need
      // its keys get 503 until it answers (the guard retries), the others are served.
      log.warn({ err }, 'gateway: cannot load the JWT keys yet (JWKS unreachable?); retrying on demand');
    }
    await this.#rateLimiter.start();
    const view = infra.registry.view();
    partial.view = view;
    await waitBounded(view.ready, 5_000);

    const source = o.routes ?? this.#routeSource(infra);
    const store = new RouteStore({ source, logger: this.#root.child({ component: 'routes' }) });
    partial.store = store;
    partial.routeSource = source.kind;
    const runtimes = new RouteRuntimes({
      guard: this.#guard,
      defaultAuth: o.defaultAuth,
      rateLimiter: this.#rateLimiter,
      metrics: this.#metrics,
      schemas: infra.schemas,
      logger: log,
      maxBodyBytes: o.maxBodyBytes,
      timeoutMs: o.timeoutMs,
      wsMaxMessageBytes: o.wsMaxMessageBytes,
    });
    partial.unsubscribe = store.subscribe((event) => {
      if (event.type === 'updated') runtimes.update(event.table);
    });
    await store.start();
    runtimes.update(store.table);

    const pool = new UpstreamPool({
      defaultTimeoutMs: o.timeoutMs,
      drainTimeoutMs: o.shutdownTimeoutMs,
      ...o.upstream,
      view,
      metrics: this.#metrics,
      logger: this.#root.child({ component: 'upstream' }),
    });
    partial.pool = pool;
    await pool.start();

    const openApi =
      o.openApi === false
        ? undefined
        : new OpenApiEndpoint({
            store,
            runtimes,
            schemas: infra.schemas,
            view,
            guard: this.#guard,
            options: o.openApi,
          });
    const publicOps = createOpsApp({
      readiness: () => this.readiness(),
      openApi: openApi && { path: OPENAPI_PATH, handle: (req, res) => openApi.handle(req, res) },
    });
    const rpcTransport = await this.#rpcTransport(infra, partial);
    const ws = new WsBridge({
      transport: rpcTransport,
      view,
      metrics: this.#metrics,
      logger: log,
      schemas: infra.schemas,
      issuer: infra.auth?.issuer,
      highWaterBytes: o.wsHighWaterBytes,
      keepAliveMs: o.streamKeepAliveMs,
    });
    partial.ws = ws;
    const pipeline = new RequestPipeline({
      store,
      runtimes,
      guard: this.#guard,
      rateLimiter: this.#rateLimiter,
      clientIp: this.#clientIp,
      trustProxy: o.trustProxy,
      forwarder: pool,
      rpc: new RpcBridge(rpcTransport, this.#metrics, infra.auth?.issuer, view, o.streamKeepAliveMs),
      ws,
      schemas: infra.schemas,
      metrics: this.#metrics,
      logger: log,
      inFlight: this.#inFlight,
      ops: (req, res) => publicOps(req, res),
      responseCache: new ResponseCache({ maxBytes: o.responseCacheMaxBytes }),
      errors: this.#errors,
    });
    partial.pipeline = pipeline;

    const server = this.#createServer(pipeline);
    partial.server = server;
    await listen(server, o.port, o.host);
    if (o.adminPort !== false && !cluster.isWorker) {
      const consoleServer =
        o.console === false
          ? undefined
          : new ConsoleServer({
              options: o.console,
              guard: this.#guard,
              infra,
              view,
              store,
              runtimes,
              pool,
              metrics: this.#metrics,
              errors: this.#errors!,
              publicUrl: () => this.address()?.url,
              rpc: rpcTransport,
              timeoutMs: o.timeoutMs,
              logger: this.#root.child({ component: 'console' }),
            });
      partial.console = consoleServer;
      consoleServer?.start();
      const adminApp = createOpsApp({
        readiness: () => this.readiness(),
        metrics: this.#metrics,
        store: o.exposeRoutes ? store : undefined,
        // The admin listener is trusted like /_switchyard/routes: every route.
        openApi: openApi && {
          path: ADMIN_OPENAPI_PATH,
          handle: async (_req, res) => openApi.send(res, openApi.document('all')),
        },
        console: consoleServer && {
          path: CONSOLE_PATH,
          handle: (req, res, url) => consoleServer.handle(req, res, url),
        },
      });
      const admin = createHttpServer(adminApp);
      partial.admin = admin;
      await listen(admin, o.adminPort, o.adminHost);
    }
    this.#phase = 'running';
    const addr = this.address()!;
    if (cluster.isWorker) {
      installWorkerHooks(this, this.#metrics);
      reportWorkerListening(addr.port);
    }
    log.info(
      {
        url: addr.url,
        admin: this.adminAddress()?.url,
        routes: store.table.size,
        routeSource: source.kind,
        mode: infra.mode,
        tls: o.tls !== undefined,
      },
      'gateway: listening',
    );
  }

  /**
   * The transport RPC routes use. With auth on, the gateway is a service like any other:
   * it gets its own token (its credentials), every bridged call carries it, and the
   * shared access rules apply to routes too (`route:<id>`).
   */
  async #rpcTransport(infra: Infrastructure, partial: Partial<Running>): Promise<Transport> {
    if (!infra.auth) return infra.transport;
    const credentials = this.#o.credentials;
    if (!credentials) {
      throw new FailedPreconditionError(
        `gateway has no credentials, but auth is on (${infra.auth.issuer}): pass \`credentials\` or set SWITCHYARD_CLIENT_ID and SWITCHYARD_CLIENT_SECRET`,
        { details: { option: 'credentials' } },
      );
    }
    const tokens = infra.auth.tokenClient(credentials, this.#root.child({ component: 'identity' }));
    partial.tokens = tokens;
    await tokens.start();
    this.#guard.useRules(infra.auth.rules);
    this.#guard.useServiceIdentity({ issuer: infra.auth.issuer, gateway: tokens });
    return infra.auth.secure(infra.transport, tokens);
  }

  #routeSource(infra: Infrastructure): RouteSource {
    const o = this.#o;
    const logger = this.#root.child({ component: 'routes' });
    const endpoints = infra.config.etcdEndpoints;
    if (endpoints.length > 0)
      return new EtcdRouteSource({
        endpoints: [...endpoints],
        namespace: infra.namespace,
        logger,
        tls: infra.config.etcdTls,
      });
    return new FileRouteSource({ path: o.routesFile, logger });
  }

  #createServer(pipeline: RequestPipeline): HttpServer {
    const o = this.#o;
    const serverOptions = {
      maxHeaderSize: o.maxHeaderBytes,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      // Node checks those two timeouts only every 30 s by default, so a slow head was held
      // up to 30 s past its limit; 1 s (a quarter of a shorter limit) keeps the overshoot small.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(o.headersTimeoutMs / 4))),
      // The gateway checks Host itself (missing or repeated: 400 with the JSON error body).
      requireHostHeader: false,
    };
    const server: HttpServer =
      o.tls === undefined
        ? createHttpServer(serverOptions, pipeline.handle)
        : (createHttpsServer(
            {
              ...serverOptions,
              cert: o.tls.cert,
              key: o.tls.key,
              ...(o.tls.ca ? { ca: o.tls.ca } : {}),
              ...(o.tls.passphrase ? { passphrase: o.tls.passphrase } : {}),
            },
            pipeline.handle,
          ) as unknown as HttpServer);
    server.on('clientError', clientErrorListener(this.#metrics, o.maxHeaderBytes));
    server.on('checkContinue', pipeline.handleExpectContinue);
    server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
      this.#upgraded.add(socket);
      socket.once('close', () => this.#upgraded.delete(socket));
      pipeline.upgrade(req, socket, head);
    });
    return server;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const r = this.#running;
    const o = this.#o;
    const log = this.logger;
    await this.#starting?.catch(() => {});
    this.#phase = 'draining';
    if (r?.pipeline) r.pipeline.draining = true;
    if (r?.server?.listening) {
      // Stop accepting; connections with nothing in flight go at once.
      const closed = new Promise<void>((resolve) => r.server.close(() => resolve()));
      r.server.closeIdleConnections();
      // WebSocket streams never drain by themselves: cancel them and tell their clients (1001)
      // at once, alongside the requests in flight.
      const wsClosed = r.ws?.close(Math.min(o.shutdownTimeoutMs, WS_SHUTDOWN_GRACE_MS));
      const inFlight = this.#inFlight.count;
      if (inFlight > 0) log.info({ inFlight, timeoutMs: o.shutdownTimeoutMs }, 'gateway: draining requests in flight');
      const drained = await this.#inFlight.idle(o.shutdownTimeoutMs);
      if (!drained) {
        log.warn({ cutOff: this.#inFlight.count }, 'gateway: shutdown timeout reached; cutting off requests in flight');
      }
      await wsClosed;
      r.server.closeAllConnections();
      for (const socket of this.#upgraded) socket.destroy();
      await closed;
    }
    await closeQuietly(log, 'upstream pool', () => r?.pool?.close());
    r?.unsubscribe?.();
    await closeQuietly(log, 'route store', () => r?.store?.close());
    await closeQuietly(log, 'rate limiter', () => this.#rateLimiter.close());
    await closeQuietly(log, 'auth', () => this.#guard.close());
    r?.console?.close();
    if (r?.admin?.listening) {
      r.admin.closeAllConnections();
      await new Promise<void>((resolve) => r.admin!.close(() => resolve()));
    }
    r?.tokens?.close();
    if (r?.ownsInfra) await closeQuietly(log, 'infrastructure', () => r.infra.close());
    this.#metrics.close();
    this.#phase = 'closed';
    log.info('gateway: closed');
  }

  address(): GatewayAddress | undefined {
    return addressOf(this.#running?.server, this.#o.tls === undefined ? 'http' : 'https');
  }

  adminAddress(): GatewayAddress | undefined {
    return addressOf(this.#running?.admin, 'http');
  }

  readiness(): ReadinessReport {
    const r = this.#running;
    if (!r?.store || !r.view) {
      return {
        ready: false,
        checks: {
          routes: { ready: false },
          registry: { ready: false },
          transport: { ready: false },
          gateway: { ready: false, phase: this.#phase },
        },
      };
    }
    return readiness(
      this.#phase,
      r.store,
      r.routeSource,
      r.view,
      r.infra.transport,
      r.readiness,
      this.#o.readyWhileDegraded,
    );
  }
}

/** The logger given, or the gateway's own pino logger: an application owns its logger. */
function rootLogger(o: ResolvedGatewayOptions): Logger {
  return o.logger ?? pino({ level: o.logLevel });
}

/** The gateway's logger (`component: gateway`). */
export function gatewayLogger(o: ResolvedGatewayOptions): Logger {
  return rootLogger(o).child({ component: 'gateway' });
}

/** Redis when SWITCHYARD_REDIS is set; in a cluster worker the primary's counters; else memory. */
function defaultRateLimitStore(o: ResolvedGatewayOptions): RateLimitStore {
  if (cluster.isWorker && !o.env[REDIS_URL_ENV]?.trim()) return new ClusterRateLimitStore();
  return rateLimitStoreFromEnv(o.env);
}

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function addressOf(server: HttpServer | undefined, scheme: 'http' | 'https'): GatewayAddress | undefined {
  const a = server?.address() as AddressInfo | string | null | undefined;
  if (!a || typeof a === 'string') return undefined;
  const host =
    a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return { address: a.address, port: a.port, url: `${scheme}://${host}:${a.port}` };
}

async function waitBounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

async function closeQuietly(log: Logger, what: string, close: () => Promise<void> | void | undefined): Promise<void> {
  try {
    await close();
  } catch (err) {
    log.warn({ err }, `gateway: closing the ${what} failed`);
  }
}
