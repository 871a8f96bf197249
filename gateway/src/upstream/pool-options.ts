import { InvalidOptionsError } from '@switchyard/broker';
import type { RegistryView } from '@switchyard/sdk';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { isRoutingLogger, type RoutingLogger, silentRoutingLogger } from '../routing/logger.js';

/** The part of the registry's cached view the pool reads: synchronous, no I/O. */
export type UpstreamRegistryView = Pick<RegistryView, 'instances' | 'onChange'>;

/** The subset of a pino logger the pool uses; pino loggers fit as they are. */
export type UpstreamLogger = RoutingLogger;

/** Connections to the instances (an undici Pool per instance). */
export interface UpstreamAgentOptions {
  /** Reuse connections between requests. Default true (without it every request opens a connection). */
  keepAlive?: boolean;
  /** Delay of the TCP keep-alive probe on idle connections, ms. Default 1000. */
  keepAliveMsecs?: number;
  /** Connections per instance; requests beyond it queue. Default 256. */
  maxSockets?: number;
  /**
   * An idle kept-alive connection is closed after this, ms. Keep it below the instances'
   * own keep-alive timeout (Node's default is 5000 ms), or a reused connection can be
   * closed by the instance just as a request is sent on it. Default 4000.
   */
  idleTimeoutMs?: number;
}

/** How the gateway trusts instances registered with an `https://` address. */
export interface UpstreamTlsOptions {
  /**
   * CA certificates (PEM text) that sign the instances' certificates, e.g. an internal CA.
   * As with `tls.connect`, it replaces Node's bundled CAs for upstream connections. Default:
   * Node's CAs (plus NODE_EXTRA_CA_CERTS).
   */
  ca?: string;
  /** Verify instance certificates (chain and name). Default true; false only for development. */
  rejectUnauthorized?: boolean;
}

/** Passive health checks: outlier ejection per instance. */
export interface UpstreamHealthOptions {
  /** Consecutive failures that eject an instance. Default 5. */
  consecutiveFailures?: number;
  /** First ejection length, ms; doubled at each repeated ejection. Default 10000. */
  ejectMs?: number;
  /** Longest ejection, ms; an instance healthy this long since its return starts again at `ejectMs`. Default 300000. */
  maxEjectMs?: number;
  /** At most this share of a service's instances is ejected at once, percent 0-100. Default 50. */
  maxEjectionPercent?: number;
  /**
   * Upstream response statuses counted as failures of the instance (and of the service,
   * for its circuit). Connect errors, resets and timeouts always count. Default
   * [502, 503, 504]: an instance answering those is not serving; other 5xx are answers
   * of a reachable application. `[]`: count transport failures only.
   */
  failureStatuses?: readonly number[];
}

/** The circuit breaker of each service, fed with the final outcome of each request. */
export interface UpstreamCircuitOptions {
  /** Share of failed requests among the last `window` that opens the circuit, 0-1. Default 0.5. */
  failureRatio?: number;
  /** Number of most recent requests looked at. Default 20. */
  window?: number;
  /** Requests needed in the window before the circuit may open. Default 10. */
  minimumCalls?: number;
  /** How long the circuit stays open before one trial request is let through, ms. Default 5000. */
  halfOpenAfterMs?: number;
}

export interface UpstreamPoolOptions {
  /** The registry's cached view; instances are read from it on every request, never from the store. */
  view: UpstreamRegistryView;
  /** Upstream errors by route and reason, circuit states, instance counts. Default none. */
  metrics?: GatewayMetrics;
  /** pino-compatible logger. Default silent. */
  logger?: UpstreamLogger;
  agent?: UpstreamAgentOptions;
  tls?: UpstreamTlsOptions;
  /** Deadline for the response headers when the route sets no `timeoutMs`, ms. Default 30000. */
  defaultTimeoutMs?: number;
  /** Extra attempts when the route sets no `retries`. Default 1. */
  defaultRetries?: number;
  /**
   * Once the response has started, the longest silence between two pieces of its body, ms
   * (nginx's proxy_read_timeout). SSE streams need heartbeats more often than this. 0: none.
   * Default 60000.
   */
  responseIdleTimeoutMs?: number;
  /** Time constant of the latency average p2c-latency compares, ms. Default 10000. */
  latencyDecayMs?: number;
  /**
   * Send the client's Host header upstream. Default false: the upstream gets the
   * instance's own host:port (the authority it registered) and the client's host in
   * X-Forwarded-Host.
   */
  preserveHost?: boolean;
  /** `close()` waits this long for requests in flight before cutting them, ms. Default 10000. */
  drainTimeoutMs?: number;
  health?: UpstreamHealthOptions;
  /** `false` disables circuit breaking. */
  circuit?: UpstreamCircuitOptions | false;
}

export const UPSTREAM_POOL_DEFAULTS = Object.freeze({
  agent: Object.freeze({
    keepAlive: true,
    keepAliveMsecs: 1_000,
    maxSockets: 256,
    idleTimeoutMs: 4_000,
  }),
  defaultTimeoutMs: 30_000,
  defaultRetries: 1,
  responseIdleTimeoutMs: 60_000,
  latencyDecayMs: 10_000,
  preserveHost: false,
  drainTimeoutMs: 10_000,
  health: Object.freeze({
    consecutiveFailures: 5,
    ejectMs: 10_000,
    maxEjectMs: 300_000,
    maxEjectionPercent: 50,
    failureStatuses: Object.freeze([502, 503, 504]) as readonly number[],
  }),
  circuit: Object.freeze({ failureRatio: 0.5, window: 20, minimumCalls: 10, halfOpenAfterMs: 5_000 }),
});

export type ResolvedAgentOptions = Readonly<Required<UpstreamAgentOptions>>;
export type ResolvedTlsOptions = Readonly<{ ca: string | undefined; rejectUnauthorized: boolean }>;
export type ResolvedHealthOptions = Readonly<Omit<Required<UpstreamHealthOptions>, 'failureStatuses'>> & {
  readonly failureStatuses: ReadonlySet<number>;
};
export type ResolvedCircuitOptions = Readonly<Required<UpstreamCircuitOptions>>;

export interface ResolvedPoolOptions {
  readonly view: UpstreamRegistryView;
  readonly metrics: GatewayMetrics | undefined;
  readonly logger: UpstreamLogger;
  readonly agent: ResolvedAgentOptions;
  readonly tls: ResolvedTlsOptions;
  readonly defaultTimeoutMs: number;
  readonly defaultRetries: number;
  readonly responseIdleTimeoutMs: number;
  readonly latencyDecayMs: number;
  readonly preserveHost: boolean;
  readonly drainTimeoutMs: number;
  readonly health: ResolvedHealthOptions;
  readonly circuit: ResolvedCircuitOptions | undefined;
}

/** Validates and defaults every option; throws InvalidOptionsError naming the first bad one. */
export function resolvePoolOptions(options: UpstreamPoolOptions): ResolvedPoolOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionsError('options: must be an object');
  const view = options.view as unknown;
  if (
    typeof view !== 'object' ||
    view === null ||
    typeof (view as UpstreamRegistryView).instances !== 'function' ||
    typeof (view as UpstreamRegistryView).onChange !== 'function'
  ) {
    throw new InvalidOptionsError('view: must be a RegistryView (instances() and onChange())');
  }
  if (options.logger !== undefined && !isRoutingLogger(options.logger)) {
    throw new InvalidOptionsError('logger: must have debug, info, warn and error methods');
  }
  const d = UPSTREAM_POOL_DEFAULTS;
  const a = objectOption(options.agent, 'agent');
  const keepAlive = a.keepAlive ?? d.agent.keepAlive;
  if (typeof keepAlive !== 'boolean') throw new InvalidOptionsError('agent.keepAlive: must be a boolean');
  const agent: ResolvedAgentOptions = Object.freeze({
    keepAlive,
    keepAliveMsecs: number(a.keepAliveMsecs, d.agent.keepAliveMsecs, 'agent.keepAliveMsecs', 1),
    maxSockets: number(a.maxSockets, d.agent.maxSockets, 'agent.maxSockets', 1, true),
    idleTimeoutMs: number(a.idleTimeoutMs, d.agent.idleTimeoutMs, 'agent.idleTimeoutMs', 1),
  });
  const t = objectOption(options.tls, 'tls');
  if (t.ca !== undefined && (typeof t.ca !== 'string' || !t.ca.includes('-----BEGIN CERTIFICATE'))) {
    throw new InvalidOptionsError('tls.ca: must be PEM text holding one or more certificates');
  }
  const rejectUnauthorized = t.rejectUnauthorized ?? true;
  if (typeof rejectUnauthorized !== 'boolean') {
    throw new InvalidOptionsError('tls.rejectUnauthorized: must be a boolean');
  }
  const tls: ResolvedTlsOptions = Object.freeze({ ca: t.ca, rejectUnauthorized });
  const h = objectOption(options.health, 'health');
  const failureStatuses = h.failureStatuses ?? d.health.failureStatuses;
  if (
    !Array.isArray(failureStatuses) ||
    !failureStatuses.every((s) => Number.isInteger(s) && (s as number) >= 100 && (s as number) <= 999)
  ) {
    throw new InvalidOptionsError('health.failureStatuses: must be a list of HTTP statuses (100-999)');
  }
  const maxEjectionPercent = h.maxEjectionPercent ?? d.health.maxEjectionPercent;
  if (typeof maxEjectionPercent !== 'number' || !(maxEjectionPercent >= 0 && maxEjectionPercent <= 100)) {
    throw new InvalidOptionsError(
      `health.maxEjectionPercent: must be a number from 0 to 100, got ${JSON.stringify(maxEjectionPercent)}`,
    );
  }
  const ejectMs = number(h.ejectMs, d.health.ejectMs, 'health.ejectMs', 1);
  const health: ResolvedHealthOptions = Object.freeze({
    consecutiveFailures: number(
      h.consecutiveFailures,
      d.health.consecutiveFailures,
      'health.consecutiveFailures',
      1,
      true,
    ),
    ejectMs,
    maxEjectMs: Math.max(ejectMs, number(h.maxEjectMs, d.health.maxEjectMs, 'health.maxEjectMs', 1)),
    maxEjectionPercent,
    failureStatuses: new Set(failureStatuses),
  });
  let circuit: ResolvedCircuitOptions | undefined;
  if (options.circuit !== false) {
    const c = objectOption(options.circuit, 'circuit');
    const failureRatio = c.failureRatio ?? d.circuit.failureRatio;
    if (typeof failureRatio !== 'number' || !(failureRatio > 0 && failureRatio <= 1)) {
      throw new InvalidOptionsError(
        `circuit.failureRatio: must be a number in (0, 1], got ${JSON.stringify(failureRatio)}`,
      );
    }
    const window = number(c.window, d.circuit.window, 'circuit.window', 1, true);
    const minimumCalls = number(c.minimumCalls, d.circuit.minimumCalls, 'circuit.minimumCalls', 1, true);
    if (minimumCalls > window) {
      throw new InvalidOptionsError(`circuit.minimumCalls: must not exceed circuit.window (${window})`);
    }
    circuit = Object.freeze({
      failureRatio,
      window,
      minimumCalls,
      halfOpenAfterMs: number(c.halfOpenAfterMs, d.circuit.halfOpenAfterMs, 'circuit.halfOpenAfterMs', 1),
    });
  }
  const preserveHost = options.preserveHost ?? d.preserveHost;
  if (typeof preserveHost !== 'boolean') throw new InvalidOptionsError('preserveHost: must be a boolean');
  return Object.freeze({
    view: options.view,
    metrics: options.metrics,
    logger: options.logger ?? silentRoutingLogger,
    agent,
    tls,
    defaultTimeoutMs: number(options.defaultTimeoutMs, d.defaultTimeoutMs, 'defaultTimeoutMs', 1),
    defaultRetries: number(options.defaultRetries, d.defaultRetries, 'defaultRetries', 0, true),
    responseIdleTimeoutMs: number(options.responseIdleTimeoutMs, d.responseIdleTimeoutMs, 'responseIdleTimeoutMs', 0),
    latencyDecayMs: number(options.latencyDecayMs, d.latencyDecayMs, 'latencyDecayMs', 1),
    preserveHost,
    drainTimeoutMs: number(options.drainTimeoutMs, d.drainTimeoutMs, 'drainTimeoutMs', 0),
    health,
    circuit,
  });
}

function objectOption<T extends object>(value: T | undefined, name: string): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionsError(`${name}: must be an object`);
  }
  return value;
}

function number(value: unknown, fallback: number, name: string, min: number, integer = false): number {
  const v = value ?? fallback;
  const ok =
    typeof v === 'number' &&
    v >= min &&
    (integer ? Number.isInteger(v) || v === Number.POSITIVE_INFINITY : Number.isFinite(v));
  if (!ok) {
    throw new InvalidOptionsError(
      `${name}: must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(value)}`,
    );
  }
  return v as number;
}
