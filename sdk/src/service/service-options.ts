import type { RetryPolicy as EventRetryPolicy, QueueType } from '@switchyard/broker';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { ServiceCredentials } from '../auth/token-client.js';
import {
  boolOption,
  intOption,
  invalidOption,
  isPlainObject,
  knownKeys,
  numberOption,
  objectOption,
  optionalString,
  stringOption,
} from '../config/check.js';
import type { Infrastructure } from '../config/infrastructure.js';
import { isPinoLogger, type Logger } from '../config/logger.js';
import type { CallContext } from '../context/call-context.js';
import type { EventContext } from '../context/event-context.js';
import type { ConfigSource } from '../dynamic-config/config-source.js';
import { DynamicConfig, type DynamicConfigOptions } from '../dynamic-config/dynamic-config.js';
import { INSTANCE_ID_PATTERN, SERVICE_NAME_PATTERN } from '../registry/instance-record.js';
import { type CircuitBreakerOptions, DEFAULT_CIRCUIT_BREAKER_OPTIONS } from '../resilience/circuit-breakers.js';
import type { RateLimitOptions } from '../resilience/rate-limit.js';
import { DEFAULT_RETRY_OPTIONS, type RetryOptions } from '../resilience/retry-policy.js';
import {
  type LooseBidiMethodOptions,
  type LooseClientStreamMethodOptions,
  methodKind,
  type ResolvedBidi,
  resolveBidiMethod,
} from './bidi-options.js';
import {
  type ResolvedStream,
  resolveServerMethod,
  resolveStreams,
  type ServerStreamMethodOptions,
  type ServiceStreamHandler,
  type StreamMethodOptions,
} from './stream-options.js';

// biome-ignore lint/suspicious/noExplicitAny: payload types are the author's to choose; schemas check them at run time
type Any = any;

export type ServiceMethodHandler<Req = Any, Res = unknown> = (payload: Req, ctx: CallContext) => Res | Promise<Res>;
export type ServiceEventHandler<T = Any> = (payload: T, ctx: EventContext) => void | Promise<void>;

export interface MethodOptions<Req = Any, Res = unknown> {
  /** `unary` (the default): one request, one reply. See `ServiceMethodOptions` for the other kinds. */
  kind?: 'unary';
  handler: ServiceMethodHandler<Req, Res>;
  /** Schema `$id` of the request: requests that fail it are refused with INVALID_ARGUMENT before the handler runs. */
  request?: string;
  /** Schema `$id` of the reply: a reply that fails it becomes INTERNAL (and is logged), never bad data. */
  response?: string;
  /** Running the handler twice for one call is harmless: callers may retry it, and a request handed over from an instance that died is run again. Default false. */
  idempotent?: boolean;
  /** Handlers of this method running at once in this instance; more are refused with BULKHEAD_FULL. Default 100. */
  maxConcurrent?: number;
  /** Requests waiting for a bulkhead slot before BULKHEAD_FULL. Default 0. */
  maxQueued?: number;
  /** Server-side rate limit of this method in this instance (RATE_LIMITED when hit). Default none. */
  rateLimit?: { points: number; durationSeconds?: number; perCaller?: boolean };
}

/** Any entry of `methods`, told apart by `kind` (default `unary`). */
export type ServiceMethodOptions =
  | MethodOptions
  | ServerStreamMethodOptions
  | LooseClientStreamMethodOptions
  | LooseBidiMethodOptions
  | ServiceMethodHandler;

export interface SubscriptionOptions<T = Any> {
  handler: ServiceEventHandler<T>;
  /** Schema `$id` of the event: invalid events go to the dead-letter queue and the handler never sees them. */
  schema?: string;
  /** Competing-consumer group. Default: the service name (instances share events, other services get their own copy). */
  group?: string;
  /** Default 'quorum'. */
  queueType?: QueueType;
  /** Handler retries before dead-lettering. Default: the transport's (5 attempts from 1 s, doubling). */
  retry?: Partial<EventRetryPolicy>;
  /** Unacked events handed to this instance at once. Default 100. */
  prefetch?: number;
}

export interface CallDefaults {
  /** Timeout of calls that set none, ms. Default 10000. */
  timeoutMs?: number;
  /** Retries of failed calls when that is safe; `false` disables them. */
  retry?: Partial<RetryOptions> | false;
  /** One breaker per target service; `false` disables them. */
  circuitBreaker?: Partial<CircuitBreakerOptions> | false;
  /**
   * Check each reply against the target method's registered response schema, and fail the
   * call with INTERNAL (the violations in `details`) when it does not fit — for targets
   * that may not check their own replies (hand-written servers, other languages). Costs one
   * validation per reply. Default false: servers built on this SDK check their replies.
   */
  validateReplies?: boolean;
}

export interface ServiceOptions {
  /** Service name: letters, digits, `.`, `_`, `-` (no `/`). Required. */
  name: string;
  /** The service's version (semver recommended). Required. */
  version: string;
  /**
   * RPC methods by name (letters, digits, `_`, `-`); a bare function is a unary handler with
   * every default. `kind` picks `unary` (default), `server` (server streaming, as `streams`),
   * `client` (client streaming) or `bidi` (docs/sdk.md).
   */
  methods?: Record<string, ServiceMethodOptions>;
  /** Server-streaming methods by name (named as `methods` are; a name is a method or a stream, not both); a bare function (an `async function*`) is a handler with every default. */
  streams?: Record<string, StreamMethodOptions | ServiceStreamHandler>;
  /** Event subscriptions by topic pattern (`*` one word, `#` any); a bare function is a handler with every default. */
  subscriptions?: Record<string, SubscriptionOptions | ServiceEventHandler>;
  /** Topics this service emits and the schema `$id` each event must satisfy (`null`: no schema). `emit()` refuses other topics. */
  emits?: Record<string, string | null>;
  /** Shared registry, transport and schemas. Default: built from `env` and owned (closed) by this service. */
  infra?: Infrastructure;
  /** Environment read when no `infra` is given. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default: the infrastructure's logger (pino to stdout). */
  logger?: Logger;
  /** prom-client registry to record handled and outgoing calls in. Default: no metrics. */
  metricsRegistry?: MetricsRegistry;
  calls?: CallDefaults;
  /** Requests this instance takes from the broker at once (AMQP prefetch). Default 100. */
  prefetch?: number;
  /** How long `close()` waits for handlers in flight before closing anyway, ms. Default 30000. */
  shutdownTimeoutMs?: number;
  /** Close gracefully on SIGTERM/SIGINT and exit. Default false. Not with a shared `infra`: use `installShutdownHandlers` once for all. */
  handleSignals?: boolean;
  /** How long `start()` waits for the registry's first sync, ms. Default 5000. */
  registryReadyTimeoutMs?: number;
  /** Instance id in the registry. Default: `<host>-<pid>-<random>`. */
  instanceId?: string;
  /** Free-form labels in the registry record. */
  metadata?: Record<string, string>;
  /** Where this instance serves HTTP, if it does. */
  address?: { http?: string };
  /**
   * This service's account, used when the infrastructure has auth on: the service gets
   * its token with them at start and renews it. Default: SWITCHYARD_CLIENT_ID and
   * SWITCHYARD_CLIENT_SECRET(_FILE) from `env` (or `process.env`).
   */
  credentials?: ServiceCredentials;
  /**
   * This service's dynamic config (`service.config`, `ctx.config`): the options of one, or
   * a `DynamicConfig` built by the caller (started by `start()` if it is not yet, closed by
   * its owner). Default `{}`: the infrastructure's shared layer of scope = the service's
   * name (etcd `/<ns>/config/<name>/` with servers, memory embedded) and `SWITCHYARD_CONFIG_*`.
   */
  config?: ServiceConfigOptions | DynamicConfig;
}

/** A service's config options: `DynamicConfig`'s, with the shared layer chosen by scope. */
export interface ServiceConfigOptions extends Omit<DynamicConfigOptions, 'remote' | 'logger'> {
  /** Whose shared layer to read: `infra.configSource(scope)`. Default: the service's name. */
  scope?: string;
  /** A shared layer of your own instead of the infrastructure's, or `false` for none. */
  remote?: ConfigSource | false;
}

export const SERVICE_DEFAULTS = Object.freeze({
  timeoutMs: 10_000,
  prefetch: 100,
  shutdownTimeoutMs: 30_000,
  registryReadyTimeoutMs: 5_000,
  maxConcurrent: 100,
  maxQueued: 0,
  rateLimitDurationSeconds: 1,
});

export interface ResolvedMethod {
  readonly name: string;
  readonly handler: ServiceMethodHandler;
  readonly request: string | undefined;
  readonly response: string | undefined;
  readonly idempotent: boolean;
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly rateLimit: Readonly<RateLimitOptions> | undefined;
}

export interface ResolvedSubscription {
  readonly topic: string;
  readonly handler: ServiceEventHandler;
  readonly schema: string | undefined;
  readonly group: string;
  readonly queueType: QueueType | undefined;
  readonly retry: Partial<EventRetryPolicy> | undefined;
  readonly prefetch: number | undefined;
}

export interface ResolvedCallDefaults {
  readonly timeoutMs: number;
  readonly retry: Readonly<RetryOptions>;
  readonly circuitBreaker: Readonly<CircuitBreakerOptions> | false;
  readonly validateReplies: boolean;
}

export interface ResolvedServiceOptions {
  readonly name: string;
  readonly version: string;
  readonly methods: readonly ResolvedMethod[];
  /** Server-streaming methods: `streams` and the `methods` of kind `server`. */
  readonly streams: readonly ResolvedStream[];
  /** The `methods` of kind `bidi` and `client`. */
  readonly bidiMethods: readonly ResolvedBidi[];
  readonly subscriptions: readonly ResolvedSubscription[];
  readonly emits: ReadonlyMap<string, string | null>;
  readonly infra: Infrastructure | undefined;
  readonly env: Readonly<Record<string, string | undefined>> | undefined;
  readonly logger: Logger | undefined;
  readonly metricsRegistry: MetricsRegistry | undefined;
  readonly calls: ResolvedCallDefaults;
  readonly prefetch: number;
  readonly shutdownTimeoutMs: number;
  readonly handleSignals: boolean;
  readonly registryReadyTimeoutMs: number;
  readonly instanceId: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly address: { readonly http?: string } | undefined;
  readonly credentials: Readonly<ServiceCredentials> | undefined;
  readonly config: ServiceConfigOptions | DynamicConfig;
}

const SERVICE_KEYS = [
  'name',
  'version',
  'methods',
  'streams',
  'subscriptions',
  'emits',
  'infra',
  'env',
  'logger',
  'metricsRegistry',
  'calls',
  'prefetch',
  'shutdownTimeoutMs',
  'handleSignals',
  'registryReadyTimeoutMs',
  'instanceId',
  'metadata',
  'address',
  'credentials',
  'config',
] as const;
const CONFIG_KEYS = ['schema', 'defaults', 'file', 'secrets', 'env', 'overrides', 'scope', 'remote'] as const;
const METHOD_KEYS = [
  'handler',
  'request',
  'response',
  'idempotent',
  'maxConcurrent',
  'maxQueued',
  'rateLimit',
] as const;
const SUBSCRIPTION_KEYS = ['handler', 'schema', 'group', 'queueType', 'retry', 'prefetch'] as const;

/** Method names cannot hold `.`: callers address `service.method` and split at the last dot. */
export const METHOD_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/** Dot-separated words. */
export const TOPIC_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** Topic patterns may use `*` (one word) and `#` (zero or more). */
export const TOPIC_FILTER_PATTERN = /^([A-Za-z0-9_-]+|\*|#)(\.([A-Za-z0-9_-]+|\*|#))*$/;
const GROUP_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.:-]{0,99}$/;

/** Validate, default and freeze the options of `createService`; throws INVALID_OPTIONS naming the bad option. */
export function resolveServiceOptions(options: ServiceOptions): ResolvedServiceOptions {
  if (!isPlainObject(options)) throw invalidOption('options', 'must be an object');
  knownKeys('', options, SERVICE_KEYS);
  const name = stringOption('name', options.name, SERVICE_NAME_PATTERN);
  if (name.length > 120) throw invalidOption('name', 'must be at most 120 characters (it becomes a queue name)');
  const version = stringOption('version', options.version);

  const methods: ResolvedMethod[] = [];
  const serverMethods: ResolvedStream[] = [];
  const bidiMethods: ResolvedBidi[] = [];
  const declared = objectOption('methods', options.methods);
  for (const [m, spec] of Object.entries(declared)) {
    const kind = methodKind(m, spec);
    if (kind !== 'client' && kind !== 'bidi' && isPlainObject(spec) && spec.inputWindow !== undefined)
      throw invalidOption(`methods.${m}.inputWindow`, 'applies only to methods of kind "bidi" or "client"');
    if (kind === 'unary') {
      if (isPlainObject(spec)) {
        const { kind: _kind, ...rest } = spec;
        methods.push(resolveMethod(m, rest));
      } else methods.push(resolveMethod(m, spec));
    } else if (kind === 'server')
      serverMethods.push(resolveServerMethod(m, spec as Record<string, unknown>, resolveMethod));
    else bidiMethods.push(resolveBidiMethod(m, spec as Record<string, unknown>, resolveMethod));
  }
  const streams = [...serverMethods, ...resolveStreams(options.streams, Object.keys(declared), resolveMethod)];
  const subscriptions = Object.entries(objectOption('subscriptions', options.subscriptions)).map(([topic, spec]) =>
    resolveSubscription(name, topic, spec),
  );
  const emits = new Map<string, string | null>();
  for (const [topic, schema] of Object.entries(objectOption('emits', options.emits))) {
    if (!TOPIC_PATTERN.test(topic)) throw invalidOption(`emits.${topic}`, 'is not a topic (dot-separated words)');
    if (schema !== null && (typeof schema !== 'string' || schema === '')) {
      throw invalidOption(`emits.${topic}`, 'must be a schema $id or null');
    }
    emits.set(topic, schema as string | null);
  }

  const infra = options.infra;
  if (
    infra !== undefined &&
    (typeof infra?.transport?.call !== 'function' || typeof infra?.registry?.register !== 'function')
  ) {
    throw invalidOption('infra', 'must come from createInfrastructure()');
  }
  if (infra !== undefined && options.env !== undefined) throw invalidOption('env', 'is read only without `infra`');
  if (infra !== undefined && options.handleSignals === true) {
    // Each service exiting the process on its own would cut the others' drain short.
    throw invalidOption(
      'handleSignals',
      'cannot be used with a shared `infra`: call installShutdownHandlers([...services, infra]) once instead',
    );
  }
  if (options.env !== undefined && !isPlainObject(options.env)) throw invalidOption('env', 'must be an object');
  if (options.logger !== undefined && !isPinoLogger(options.logger))
    throw invalidOption('logger', 'must be a pino logger');
  const metricsRegistry = options.metricsRegistry;
  if (metricsRegistry !== undefined && typeof metricsRegistry?.getSingleMetric !== 'function') {
    throw invalidOption('metricsRegistry', 'must be a prom-client Registry');
  }

  const instanceId = optionalString('instanceId', options.instanceId, INSTANCE_ID_PATTERN);
  const metadata = objectOption('metadata', options.metadata);
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw invalidOption(`metadata.${k}`, 'must be a string');
  }
  const credentials = resolveCredentials(options.credentials);
  const address = options.address === undefined ? undefined : objectOption('address', options.address);
  if (address) {
    knownKeys('address', address, ['http']);
    optionalString('address.http', address.http, /^https?:\/\/[^\s/]+(:\d+)?\/?$/);
  }

  let config: ServiceConfigOptions | DynamicConfig = {};
  if (options.config instanceof DynamicConfig) config = options.config;
  else if (options.config !== undefined) {
    if (!isPlainObject(options.config)) throw invalidOption('config', 'must be config options or a DynamicConfig');
    knownKeys('config', options.config, CONFIG_KEYS);
    config = options.config;
  }

  return Object.freeze({
    name,
    version,
    config,
    methods: Object.freeze(methods),
    streams: Object.freeze(streams),
    bidiMethods: Object.freeze(bidiMethods),
    subscriptions: Object.freeze(subscriptions),
    emits,
    infra,
    env: options.env,
    logger: options.logger,
    metricsRegistry,
    calls: resolveCallDefaults(options.calls),
    prefetch: intOption('prefetch', options.prefetch, SERVICE_DEFAULTS.prefetch, 1, 65_535),
    shutdownTimeoutMs: intOption('shutdownTimeoutMs', options.shutdownTimeoutMs, SERVICE_DEFAULTS.shutdownTimeoutMs, 0),
    handleSignals: boolOption('handleSignals', options.handleSignals, false),
    registryReadyTimeoutMs: intOption(
      'registryReadyTimeoutMs',
      options.registryReadyTimeoutMs,
      SERVICE_DEFAULTS.registryReadyTimeoutMs,
      0,
    ),
    instanceId,
    credentials,
    metadata: Object.freeze({ ...(metadata as Record<string, string>) }),
    address: address as { http?: string } | undefined,
  });
}

function resolveMethod(name: string, spec: unknown, section = 'methods'): ResolvedMethod {
  const at = `${section}.${name}`;
  if (!METHOD_NAME_PATTERN.test(name))
    throw invalidOption(at, `has a bad name: must match ${METHOD_NAME_PATTERN.source}`);
  if (typeof spec === 'function') spec = { handler: spec };
  if (!isPlainObject(spec)) throw invalidOption(at, 'must be an object with a handler');
  knownKeys(at, spec, METHOD_KEYS);
  if (typeof spec.handler !== 'function') throw invalidOption(`${at}.handler`, 'must be a function');
  let rateLimit: RateLimitOptions | undefined;
  if (spec.rateLimit !== undefined) {
    const r = objectOption(`${at}.rateLimit`, spec.rateLimit);
    knownKeys(`${at}.rateLimit`, r, ['points', 'durationSeconds', 'perCaller']);
    if (r.points === undefined) throw invalidOption(`${at}.rateLimit.points`, 'is required');
    rateLimit = Object.freeze({
      points: intOption(`${at}.rateLimit.points`, r.points, 1, 1),
      durationSeconds: intOption(
        `${at}.rateLimit.durationSeconds`,
        r.durationSeconds,
        SERVICE_DEFAULTS.rateLimitDurationSeconds,
        1,
      ),
      perCaller: boolOption(`${at}.rateLimit.perCaller`, r.perCaller, false),
    });
  }
  return Object.freeze({
    name,
    handler: spec.handler as ServiceMethodHandler,
    request: optionalString(`${at}.request`, spec.request),
    response: optionalString(`${at}.response`, spec.response),
    idempotent: boolOption(`${at}.idempotent`, spec.idempotent, false),
    maxConcurrent: intOption(`${at}.maxConcurrent`, spec.maxConcurrent, SERVICE_DEFAULTS.maxConcurrent, 1),
    maxQueued: intOption(`${at}.maxQueued`, spec.maxQueued, SERVICE_DEFAULTS.maxQueued, 0),
    rateLimit,
  });
}

function resolveSubscription(service: string, topic: string, spec: unknown): ResolvedSubscription {
  const at = `subscriptions.${topic}`;
  if (!TOPIC_FILTER_PATTERN.test(topic))
    throw invalidOption(at, 'is not a topic pattern (words, `*`, `#`, dot-separated)');
  if (typeof spec === 'function') spec = { handler: spec };
  if (!isPlainObject(spec)) throw invalidOption(at, 'must be an object with a handler');
  knownKeys(at, spec, SUBSCRIPTION_KEYS);
  if (typeof spec.handler !== 'function') throw invalidOption(`${at}.handler`, 'must be a function');
  const queueType = spec.queueType;
  if (queueType !== undefined && queueType !== 'quorum' && queueType !== 'classic') {
    throw invalidOption(`${at}.queueType`, 'must be "quorum" or "classic"');
  }
  const retry = spec.retry === undefined ? undefined : objectOption(`${at}.retry`, spec.retry);
  return Object.freeze({
    topic,
    handler: spec.handler as ServiceEventHandler,
    schema: optionalString(`${at}.schema`, spec.schema),
    group: optionalString(`${at}.group`, spec.group, GROUP_PATTERN) ?? service,
    queueType: queueType as QueueType | undefined,
    retry: retry as Partial<EventRetryPolicy> | undefined,
    prefetch: spec.prefetch === undefined ? undefined : intOption(`${at}.prefetch`, spec.prefetch, 100, 1, 65_535),
  });
}

function resolveCallDefaults(value: unknown): ResolvedCallDefaults {
  const calls = objectOption('calls', value);
  knownKeys('calls', calls, ['timeoutMs', 'retry', 'circuitBreaker', 'validateReplies']);
  const timeoutMs = intOption('calls.timeoutMs', calls.timeoutMs, SERVICE_DEFAULTS.timeoutMs, 1);

  let retry: RetryOptions;
  if (calls.retry === false) retry = { ...DEFAULT_RETRY_OPTIONS, attempts: 1 };
  else {
    const r = objectOption('calls.retry', calls.retry);
    knownKeys('calls.retry', r, ['attempts', 'initialDelayMs', 'maxDelayMs']);
    const d = DEFAULT_RETRY_OPTIONS;
    retry = {
      attempts: intOption('calls.retry.attempts', r.attempts, d.attempts, 1, 100),
      initialDelayMs: intOption('calls.retry.initialDelayMs', r.initialDelayMs, d.initialDelayMs, 1),
      maxDelayMs: intOption('calls.retry.maxDelayMs', r.maxDelayMs, d.maxDelayMs, 1),
    };
    if (retry.maxDelayMs < retry.initialDelayMs) {
      throw invalidOption('calls.retry.maxDelayMs', 'must be >= calls.retry.initialDelayMs');
    }
  }

  let circuitBreaker: CircuitBreakerOptions | false;
  if (calls.circuitBreaker === false) circuitBreaker = false;
  else {
    const c = objectOption('calls.circuitBreaker', calls.circuitBreaker);
    knownKeys('calls.circuitBreaker', c, ['failureRatio', 'window', 'minimumCalls', 'halfOpenAfterMs']);
    const d = DEFAULT_CIRCUIT_BREAKER_OPTIONS;
    const window = intOption('calls.circuitBreaker.window', c.window, d.window, 1, 10_000);
    circuitBreaker = {
      failureRatio: numberOption('calls.circuitBreaker.failureRatio', c.failureRatio, d.failureRatio, 0.01, 1),
      window,
      minimumCalls: intOption(
        'calls.circuitBreaker.minimumCalls',
        c.minimumCalls,
        Math.min(d.minimumCalls, window),
        1,
        window,
      ),
      halfOpenAfterMs: intOption('calls.circuitBreaker.halfOpenAfterMs', c.halfOpenAfterMs, d.halfOpenAfterMs, 1),
    };
  }
  return Object.freeze({
    timeoutMs,
    retry: Object.freeze(retry),
    circuitBreaker: circuitBreaker === false ? false : Object.freeze(circuitBreaker),
    validateReplies: boolOption('calls.validateReplies', calls.validateReplies, false),
  });
}

function resolveCredentials(value: unknown): Readonly<ServiceCredentials> | undefined {
  if (value === undefined) return undefined;
  const c = objectOption('credentials', value);
  knownKeys('credentials', c, ['clientId', 'clientSecret', 'scope']);
  const clientId = stringOption('credentials.clientId', c.clientId);
  const clientSecret = stringOption('credentials.clientSecret', c.clientSecret);
  const scope = optionalString('credentials.scope', c.scope);
  return Object.freeze({ clientId, clientSecret, ...(scope === undefined ? {} : { scope }) });
}
