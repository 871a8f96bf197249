import {
  credentialsFromEnv,
  type Infrastructure,
  parseAuthSettings,
  parseSwitchyardConfig,
  type ServiceCredentials,
  type SwitchyardConfig,
} from '@switchyard/sdk';
import type { Logger } from 'pino';
import type { AuthGuard, AuthGuardOptions } from '../auth/auth-guard.js';
import type { RouteAuthConfig } from '../auth/route-auth.js';
import { type GatewayConsoleOptions, type ResolvedConsoleOptions, resolveConsole } from '../console/console-options.js';
import type { GatewayMetricsOptions } from '../metrics/gateway-metrics.js';
import type { TrustProxy } from '../ratelimit/client-ip.js';
import type { RateLimiterOptions } from '../ratelimit/rate-limiter.js';
import type { RouteSource } from '../routing/route-source.js';
import type { UpstreamPoolOptions } from '../upstream/pool-options.js';
import { type AuthSetting, resolveAuth } from './auth-settings.js';
import { type Env, GATEWAY_ENV, readEnv } from './gateway-env.js';
import { boolOption, intOption, intSetting, invalidOption, isPlainObject, knownKeys } from './option-checks.js';
import { type GatewayTlsOptions, pem, type ResolvedTls, resolveTls } from './tls-options.js';
import { resolveTrustProxy } from './trust-proxy-setting.js';

/** Upstream pool settings the gateway passes on (the view, metrics and logger are its own). */
export type GatewayUpstreamOptions = Omit<UpstreamPoolOptions, 'view' | 'metrics' | 'logger'>;

/** Rate-limiter settings the gateway passes on (metrics, logger and trustProxy are its own). */
export type GatewayRateLimitOptions = Omit<RateLimiterOptions, 'metrics' | 'logger' | 'trustProxy'>;

/**
 * Options of `createGateway()`. Every one is optional; the defaults (GATEWAY_DEFAULTS) and
 * environment variables (GATEWAY_ENV, plus the SDK's SWITCHYARD_ETCD / _AMQP / _NAMESPACE /
 * _SCHEMAS) make a working gateway. An option beats its variable.
 */
export interface GatewayOptions {
  /** Where settings are read. Default `process.env`. */
  env?: Env;
  /**
   * Registry, transport and schemas, shared with services in the same process. Default:
   * built from the environment with `createInfrastructure()` (in-memory when neither
   * etcd nor RabbitMQ is configured) and closed by the gateway.
   */
  infra?: Infrastructure;
  /** Where routes come from. Default: etcd when configured, else the routes file. Closed by the gateway. */
  routes?: RouteSource;
  /** Routes file used without etcd. Default SWITCHYARD_ROUTES_FILE, else `routes.yaml`. */
  routesFile?: string;
  /** Interface of the public listener. Default SWITCHYARD_GATEWAY_HOST, else `0.0.0.0`. */
  host?: string;
  /** Port of the public listener; 0 picks a free one. Default SWITCHYARD_GATEWAY_PORT, else 8080. */
  port?: number;
  /** Interface of the admin listener. Default: `host`. */
  adminHost?: string;
  /** Port of the admin listener (0: a free one), or `false` for none. Default SWITCHYARD_ADMIN_PORT, else 9090. */
  adminPort?: number | false;
  /** HTTPS on the public listener. Default SWITCHYARD_TLS_CERT + SWITCHYARD_TLS_KEY, else plain HTTP. */
  tls?: GatewayTlsOptions;
  /** Credentials: AuthGuard options, or a guard (then owned by the gateway). Default: from the environment (see docs/gateway.md). */
  auth?: AuthGuardOptions | AuthGuard;
  /** Auth of routes that have no `auth` section. Default `{ mode: 'required' }`. */
  defaultAuth?: RouteAuthConfig;
  /** Rate-limit store and failure handling. Default store: Redis with SWITCHYARD_REDIS, the cluster primary with `workers` > 1, else memory. */
  rateLimit?: GatewayRateLimitOptions;
  /** Proxies allowed to set the client address. Default SWITCHYARD_TRUST_PROXY, else false. */
  trustProxy?: TrustProxy;
  /** Body limit of routes without `maxBodyBytes`, bytes (413 above). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Memory of the response cache of routes with `cache`, bytes (least recently used evicted). Default 64 MiB. */
  responseCacheMaxBytes?: number;
  /** Largest request head (request line + headers), bytes (431 above). Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Upstream/RPC deadline of routes without `timeoutMs`, ms. Default 30000. */
  timeoutMs?: number;
  /** Idle keep-alive connections are closed after this, ms. Default 65000 (above common load-balancer idle timeouts). */
  keepAliveTimeoutMs?: number;
  /**
   * Time a client has to send the request head, ms (408 after). Default 15000: a client
   * trickling its head one line at a time (slowloris) holds a connection no longer.
   */
  headersTimeoutMs?: number;
  /** Time a client has to send the whole request, ms (408 after). Default 300000. */
  requestTimeoutMs?: number;
  /** How long `close()` waits for requests in flight before cutting them off, ms. Default 10000. */
  shutdownTimeoutMs?: number;
  /**
   * An SSE stream (an RPC route to a streaming method, `Accept: text/event-stream`) that
   * sent nothing for this long gets a `: keep-alive` comment, so proxies and load
   * balancers with an idle timeout do not cut a quiet stream, ms. 0: never. Default 15000.
   * A WebSocket stream that sent nothing for this long gets a ping frame.
   */
  streamKeepAliveMs?: number;
  /**
   * Largest WebSocket message on a `stream: websocket` route without `maxBodyBytes`, bytes:
   * a bigger one closes the stream with 1009. Default 64 KiB.
   */
  wsMaxMessageBytes?: number;
  /**
   * Bytes a WebSocket may have waiting to be written before the gateway stops pulling the
   * service's items (a client that stops reading then holds the service back through the
   * stream's credit instead of filling the gateway's memory). Default 256 KiB.
   */
  wsHighWaterBytes?: number;
  /** Gateway processes on this machine (node cluster; needs etcd + RabbitMQ). Default SWITCHYARD_GATEWAY_WORKERS, else 1. */
  workers?: number;
  /** Script the cluster primary forks as workers. Default: the running script (`process.argv[1]`). */
  workerScript?: string;
  /** pino logger. Default: pino to stdout at SWITCHYARD_LOG_LEVEL (else `info`). */
  logger?: Logger;
  /** Prometheus metrics settings. */
  metrics?: GatewayMetricsOptions;
  /** Serve the route table at `/_switchyard/routes` on the admin listener. Default true. */
  exposeRoutes?: boolean;
  /**
   * `/readyz` stays 200 (with `degraded: true`) while etcd or RabbitMQ is lost after the
   * gateway was in sync: it serves its last routes and instances, and a dependency every
   * gateway shares would otherwise take them all out of the balancer at once. `false`:
   * 503 whenever a dependency is lost. Default true.
   */
  readyWhileDegraded?: boolean;
  /**
   * The OpenAPI 3.1 description of the routes at `/openapi.json` (public routes; every
   * route for a caller with `operatorScope`, and on the admin listener at
   * `/_switchyard/openapi.json`). `false`: not served. Default on, title "Switchyard
   * gateway", operator scope `switchyard:operator`.
   */
  openApi?: false | GatewayOpenApiOptions;
  /**
   * The web console at `/console` on the admin listener (docs/console.md). `false`: not
   * served. Default on, for tokens with the scope `switchyard:operator`
   * (`auth: 'admin-port'` drops the check: then the admin listener must be private).
   */
  console?: false | GatewayConsoleOptions;
  /** Upstream pool settings (connections, passive health, circuit, retries): see docs/gateway.md. */
  upstream?: GatewayUpstreamOptions;
  /**
   * The gateway's own service account, used when auth is on (SWITCHYARD_AUTH_URL or
   * `infra` built with `auth`): its token goes on every RPC the gateway bridges.
   * Default SWITCHYARD_CLIENT_ID + SWITCHYARD_CLIENT_SECRET(_FILE).
   */
  credentials?: ServiceCredentials;
}

export const GATEWAY_DEFAULTS = Object.freeze({
  host: '0.0.0.0',
  port: 8080,
  adminPort: 9090,
  routesFile: 'routes.yaml',
  defaultAuth: Object.freeze({ mode: 'required' }) as RouteAuthConfig,
  maxBodyBytes: 1024 * 1024,
  responseCacheMaxBytes: 64 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  timeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 300_000,
  shutdownTimeoutMs: 10_000,
  streamKeepAliveMs: 15_000,
  wsMaxMessageBytes: 64 * 1024,
  wsHighWaterBytes: 256 * 1024,
  workers: 1,
  logLevel: 'info',
});

/** The options after defaults, environment and validation. Frozen. */
export interface ResolvedGatewayOptions {
  readonly env: Env;
  readonly infra: Infrastructure | undefined;
  /** The SDK settings (from `infra.config`, or parsed from `env`). */
  readonly switchyard: SwitchyardConfig;
  readonly routes: RouteSource | undefined;
  readonly routesFile: string;
  readonly host: string;
  readonly port: number;
  readonly adminHost: string;
  readonly adminPort: number | false;
  readonly tls: ResolvedTls | undefined;
  readonly auth: AuthSetting;
  readonly defaultAuth: RouteAuthConfig;
  readonly rateLimit: GatewayRateLimitOptions;
  readonly trustProxy: TrustProxy;
  readonly maxBodyBytes: number;
  readonly responseCacheMaxBytes: number;
  readonly maxHeaderBytes: number;
  readonly timeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly streamKeepAliveMs: number;
  readonly wsMaxMessageBytes: number;
  readonly wsHighWaterBytes: number;
  readonly workers: number;
  readonly workerScript: string | undefined;
  readonly logger: Logger | undefined;
  readonly logLevel: string;
  readonly metrics: GatewayMetricsOptions;
  readonly exposeRoutes: boolean;
  readonly readyWhileDegraded: boolean;
  readonly openApi: Required<GatewayOpenApiOptions> | false;
  readonly console: ResolvedConsoleOptions | false;
  readonly upstream: GatewayUpstreamOptions;
  readonly credentials: ServiceCredentials | undefined;
}

const KNOWN: readonly (keyof GatewayOptions)[] = [
  'env',
  'infra',
  'routes',
  'routesFile',
  'host',
  'port',
  'adminHost',
  'adminPort',
  'tls',
  'auth',
  'defaultAuth',
  'rateLimit',
  'trustProxy',
  'maxBodyBytes',
  'responseCacheMaxBytes',
  'maxHeaderBytes',
  'timeoutMs',
  'keepAliveTimeoutMs',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'shutdownTimeoutMs',
  'streamKeepAliveMs',
  'wsMaxMessageBytes',
  'wsHighWaterBytes',
  'workers',
  'workerScript',
  'logger',
  'metrics',
  'exposeRoutes',
  'readyWhileDegraded',
  'openApi',
  'console',
  'upstream',
  'credentials',
];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const MAX_PORT = 65_535;
const MAX_BODY = 1024 * 1024 * 1024;

/**
 * Validate `options`, fill in the environment and the defaults. Throws INVALID_OPTIONS
 * naming the option or variable that is wrong; reads TLS files (nothing else touches I/O).
 */
export function resolveGatewayOptions(options: GatewayOptions = {}): ResolvedGatewayOptions {
  if (!isPlainObject(options as unknown)) throw invalidOption('options', 'must be an object');
  knownKeys('', options as Record<string, unknown>, KNOWN as string[]);
  const env: Env = options.env ?? process.env;
  if (!isPlainObject(env as unknown)) throw invalidOption('env', 'must be an object of strings');

  const infra = options.infra;
  if (infra !== undefined) {
    const i = infra as Partial<Infrastructure> | null;
    if (!isPlainObject(i as unknown) || !i?.registry || !i.transport || !i.schemas || !i.config) {
      throw invalidOption('infra', 'must be an Infrastructure from createInfrastructure()');
    }
  }
  const switchyard = infra?.config ?? parseSwitchyardConfig(env);
  const embedded = switchyard.mode === 'embedded';

  const routes = options.routes;
  if (routes !== undefined) {
    const r = routes as Partial<RouteSource> | null;
    if (!isPlainObject(r as unknown) || typeof r?.start !== 'function' || typeof r.close !== 'function') {
      throw invalidOption('routes', 'must be a RouteSource (EtcdRouteSource, FileRouteSource, MemoryRouteSource)');
    }
  }
  const routesFile = options.routesFile ?? readEnv(env, GATEWAY_ENV.routesFile) ?? GATEWAY_DEFAULTS.routesFile;
  if (typeof routesFile !== 'string' || routesFile === '') {
    throw invalidOption('routesFile', 'must be a non-empty path');
  }

  const host = hostSetting('host', options.host, readEnv(env, GATEWAY_ENV.host) ?? GATEWAY_DEFAULTS.host);
  const port = intSetting(
    'port',
    options.port,
    GATEWAY_ENV.port,
    readEnv(env, GATEWAY_ENV.port),
    GATEWAY_DEFAULTS.port,
    0,
    MAX_PORT,
  );
  const adminHost = hostSetting('adminHost', options.adminHost, host);
  const adminPort = adminPortSetting(options.adminPort, readEnv(env, GATEWAY_ENV.adminPort));
  if (adminPort !== false && adminPort !== 0 && adminPort === port) {
    throw invalidOption('adminPort', `must differ from port (${port})`);
  }

  const defaultAuth = options.defaultAuth ?? GATEWAY_DEFAULTS.defaultAuth;
  if (!isPlainObject(defaultAuth as unknown))
    throw invalidOption('defaultAuth', 'must be a route auth section ({ mode, ... })');
  const rateLimit = options.rateLimit ?? {};
  if (!isPlainObject(rateLimit as unknown)) throw invalidOption('rateLimit', 'must be an object');
  for (const key of ['metrics', 'logger', 'trustProxy']) {
    if (key in (rateLimit as object)) throw invalidOption(`rateLimit.${key}`, 'is set by the gateway itself');
  }

  const num = (name: keyof GatewayOptions, fallback: number, min: number, max: number) => {
    const v = options[name];
    return v === undefined ? fallback : intOption(name, v, min, max);
  };
  const workers = intSetting(
    'workers',
    options.workers,
    GATEWAY_ENV.workers,
    readEnv(env, GATEWAY_ENV.workers),
    GATEWAY_DEFAULTS.workers,
    1,
    64,
  );
  if (workers > 1 && embedded && infra === undefined) {
    throw invalidOption(
      'workers',
      'must be 1 in embedded mode: each worker would have its own in-memory registry; configure SWITCHYARD_ETCD and SWITCHYARD_AMQP',
    );
  }
  if (workers > 1 && (options.infra !== undefined || options.routes !== undefined || options.auth !== undefined)) {
    throw invalidOption(
      'workers',
      'must be 1 when infra, routes or auth are passed as objects: worker processes build their own from the environment',
    );
  }
  const workerScript = options.workerScript;
  if (workerScript !== undefined && (typeof workerScript !== 'string' || workerScript === '')) {
    throw invalidOption('workerScript', 'must be a path');
  }

  const logger = options.logger;
  if (logger !== undefined && !isLogger(logger)) throw invalidOption('logger', 'must be a pino logger');
  const logLevel = readEnv(env, GATEWAY_ENV.logLevel) ?? GATEWAY_DEFAULTS.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw invalidOption(
      GATEWAY_ENV.logLevel,
      `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  }
  const metrics = options.metrics ?? {};
  if (!isPlainObject(metrics as unknown)) throw invalidOption('metrics', 'must be an object');
  const upstream = options.upstream ?? {};
  if (!isPlainObject(upstream as unknown)) throw invalidOption('upstream', 'must be an object');
  for (const key of ['view', 'metrics', 'logger']) {
    if (key in (upstream as object)) throw invalidOption(`upstream.${key}`, 'is set by the gateway itself');
  }
  const upstreamCa = readEnv(env, GATEWAY_ENV.upstreamCa);
  const upstreamTls = upstream.tls;
  if (upstreamTls !== undefined && !isPlainObject(upstreamTls as unknown)) {
    throw invalidOption('upstream.tls', 'must be an object { ca, rejectUnauthorized }');
  }
  // The option wins over the environment, as everywhere else.
  const upstreamOptions: GatewayUpstreamOptions =
    upstreamCa === undefined || upstreamTls?.ca !== undefined
      ? upstream
      : { ...upstream, tls: { ...upstreamTls, ca: pem(GATEWAY_ENV.upstreamCa, upstreamCa, 'CERTIFICATE') } };

  return Object.freeze({
    env,
    infra,
    switchyard,
    routes,
    routesFile,
    host,
    port,
    adminHost,
    adminPort,
    tls: resolveTls(options.tls, env),
    auth: resolveAuth(options.auth, env, embedded, infra ? infra.auth : parseAuthSettings(env, undefined)),
    credentials: resolveCredentials(options.credentials, env),
    defaultAuth,
    rateLimit,
    trustProxy: resolveTrustProxy(options.trustProxy, env),
    maxBodyBytes: num('maxBodyBytes', GATEWAY_DEFAULTS.maxBodyBytes, 0, MAX_BODY),
    responseCacheMaxBytes: num('responseCacheMaxBytes', GATEWAY_DEFAULTS.responseCacheMaxBytes, 1, 16 * 1024 ** 3),
    maxHeaderBytes: num('maxHeaderBytes', GATEWAY_DEFAULTS.maxHeaderBytes, 1024, 1024 * 1024),
    timeoutMs: num('timeoutMs', GATEWAY_DEFAULTS.timeoutMs, 1, 600_000),
    keepAliveTimeoutMs: num('keepAliveTimeoutMs', GATEWAY_DEFAULTS.keepAliveTimeoutMs, 1, 3_600_000),
    headersTimeoutMs: num('headersTimeoutMs', GATEWAY_DEFAULTS.headersTimeoutMs, 1, 3_600_000),
    requestTimeoutMs: num('requestTimeoutMs', GATEWAY_DEFAULTS.requestTimeoutMs, 0, 3_600_000),
    shutdownTimeoutMs: num('shutdownTimeoutMs', GATEWAY_DEFAULTS.shutdownTimeoutMs, 0, 3_600_000),
    streamKeepAliveMs: num('streamKeepAliveMs', GATEWAY_DEFAULTS.streamKeepAliveMs, 0, 3_600_000),
    wsMaxMessageBytes: num('wsMaxMessageBytes', GATEWAY_DEFAULTS.wsMaxMessageBytes, 1, MAX_BODY),
    wsHighWaterBytes: num('wsHighWaterBytes', GATEWAY_DEFAULTS.wsHighWaterBytes, 1024, 64 * 1024 * 1024),
    workers,
    workerScript,
    logger,
    logLevel,
    metrics,
    exposeRoutes: boolOption('exposeRoutes', options.exposeRoutes, true),
    readyWhileDegraded: boolOption('readyWhileDegraded', options.readyWhileDegraded, true),
    openApi: resolveOpenApi(options.openApi),
    console: resolveConsole(options.console),
    upstream: upstreamOptions,
  });
}

export interface GatewayOpenApiOptions {
  /** `info.title`. Default "Switchyard gateway". */
  title?: string;
  /** `info.description`. Default none. */
  description?: string;
  /** Scope that shows every route (not only those callable without credentials). Default `switchyard:operator`. */
  operatorScope?: string;
}

export const OPENAPI_DEFAULTS = Object.freeze({ title: 'Switchyard gateway', operatorScope: 'switchyard:operator' });

function resolveOpenApi(value: unknown): Required<GatewayOpenApiOptions> | false {
  if (value === false) return false;
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw invalidOption('openApi', 'must be false or an object { title, description, operatorScope }');
  }
  const o = (value ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!['title', 'description', 'operatorScope'].includes(key))
      throw invalidOption(`openApi.${key}`, 'is not an option');
  }
  const text = (key: string, fallback: string, pattern?: RegExp): string => {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || v === '' || (pattern !== undefined && !pattern.test(v))) {
      throw invalidOption(
        `openApi.${key}`,
        `must be a non-empty string${pattern ? ' without spaces' : ''}, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  return Object.freeze({
    title: text('title', OPENAPI_DEFAULTS.title),
    description: text('description', ''),
    operatorScope: text('operatorScope', OPENAPI_DEFAULTS.operatorScope, /^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/),
  });
}

function hostSetting(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '' || /\s|\//.test(value)) {
    throw invalidOption(option, `must be a host name or address, got ${JSON.stringify(value)}`);
  }
  return value;
}

function adminPortSetting(value: unknown, envValue: string | undefined): number | false {
  if (value === false) return false;
  if (value !== undefined) return intOption('adminPort', value, 0, MAX_PORT);
  if (envValue === 'off' || envValue === 'false') return false;
  return intSetting('adminPort', undefined, GATEWAY_ENV.adminPort, envValue, GATEWAY_DEFAULTS.adminPort, 0, MAX_PORT);
}

function isLogger(value: unknown): value is Logger {
  const l = value as Record<string, unknown> | null;
  return (
    typeof l === 'object' &&
    l !== null &&
    ['child', 'debug', 'info', 'warn', 'error'].every((m) => typeof l[m] === 'function')
  );
}

function resolveCredentials(value: unknown, env: Env): ServiceCredentials | undefined {
  if (value === undefined) return credentialsFromEnv(env);
  const c = value as Partial<ServiceCredentials> | null;
  if (!isPlainObject(c as unknown) || typeof c?.clientId !== 'string' || typeof c.clientSecret !== 'string') {
    throw invalidOption('credentials', 'must be { clientId, clientSecret } strings');
  }
  return Object.freeze({ ...(c as ServiceCredentials) });
}
