import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  ClosedError,
  FailedPreconditionError,
  type PublishReceipt,
  type Server,
  type Subscription,
  type Transport,
} from '@switchyard/broker';
import { credentialsFromEnv } from '../auth/auth-settings.js';
import type { TokenClient } from '../auth/token-client.js';
import type { Cache } from '../cache/cache.js';
import { createInfrastructure, type Infrastructure } from '../config/infrastructure.js';
import { defaultLogger, type Logger } from '../config/logger.js';
import type {
  ContextHost,
  EmitOptions,
  ParentContext,
  ServiceBidiCall,
  ServiceBidiOptions,
  ServiceCallOptions,
  ServiceClientStream,
  ServiceStreamOptions,
} from '../context/context-host.js';
import { DynamicConfig } from '../dynamic-config/dynamic-config.js';
import type { Registration } from '../registry/types.js';
import { CircuitBreakers, type CircuitStateName } from '../resilience/circuit-breakers.js';
import type { Store } from '../store/store.js';
import type { Sync } from '../sync/sync.js';
import { BidiStreamCaller } from './bidi-caller.js';
import { BidiRunner } from './bidi-runner.js';
import { Caller } from './caller.js';
import { Emitter } from './emitter.js';
import { clientStreamOf, FailedBidi } from './failed-bidi.js';
import { MethodRunner } from './method-runner.js';
import { ServiceMetrics } from './service-metrics.js';
import { type ResolvedServiceOptions, resolveServiceOptions, type ServiceOptions } from './service-options.js';
import { checkSchemaRefs, instanceRecord } from './service-record.js';
import { installShutdownHandlers } from './shutdown.js';
import { failedStream, StreamCaller } from './stream-caller.js';
import { StreamRunner } from './stream-runner.js';
import { subscribeWith } from './subscription-runner.js';
import { TargetDirectory } from './target-directory.js';

export type ServiceState = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

/** Parts that exist only while the service runs. */
interface Running {
  infra: Infrastructure;
  ownsInfra: boolean;
  directory: TargetDirectory;
  caller: Caller;
  streamCaller: StreamCaller;
  bidiCaller: BidiStreamCaller;
  emitter: Emitter;
  runners: Map<string, MethodRunner | StreamRunner | BidiRunner>;
  server: Server | undefined;
  subscriptions: Subscription[];
  registration: Registration | undefined;
  uninstallSignals: (() => void) | undefined;
  /** This service's own token, when auth is on. */
  tokens: TokenClient | undefined;
  config: DynamicConfig | undefined;
  /** The service built its config (from options) and closes it. */
  ownsConfig: boolean;
}

/**
 * A Switchyard service: methods and event handlers with schemas, registered in the
 * registry while it runs, calling other services with deadlines, retries and circuit
 * breakers. Create it with `createService()`, then `start()`; `close()` shuts it down
 * gracefully (deregister, drain, disconnect).
 */
export class Service implements ContextHost {
  readonly options: ResolvedServiceOptions;
  readonly name: string;
  readonly version: string;
  readonly instanceId: string;
  /** pino logger bound to `service` and `instance`. */
  readonly logger: Logger;
  private currentState: ServiceState = 'idle';
  private running: Running | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private breakers: CircuitBreakers | undefined;

  /** Throws INVALID_OPTIONS naming the bad option. */
  constructor(options: ServiceOptions) {
    this.options = resolveServiceOptions(options);
    this.name = this.options.name;
    this.version = this.options.version;
    this.instanceId = this.options.instanceId ?? defaultInstanceId();
    const base = this.options.logger ?? this.options.infra?.logger ?? defaultLogger();
    this.logger = base.child({ service: this.name, instance: this.instanceId });
  }

  get state(): ServiceState {
    return this.currentState;
  }

  /** The infrastructure in use (after `start()`). */
  get infra(): Infrastructure | undefined {
    return this.running?.infra;
  }

  /** The infrastructure's store (after `start()`): what handlers see as `ctx.store`. */
  get store(): Store {
    const infra = this.running?.infra;
    if (!infra)
      throw new ClosedError(`service ${this.name} is not running: its store is the infrastructure's, after start()`);
    return infra.store;
  }

  /** The infrastructure's cache (after `start()`): what handlers see as `ctx.cache`. */
  get cache(): Cache {
    const infra = this.running?.infra;
    if (!infra)
      throw new ClosedError(`service ${this.name} is not running: its cache is the infrastructure's, after start()`);
    return infra.cache;
  }

  /** The infrastructure's locks and elections (after `start()`): `ctx.sync` in handlers. */
  get sync(): Sync {
    const infra = this.running?.infra;
    if (!infra)
      throw new ClosedError(`service ${this.name} is not running: its sync is the infrastructure's, after start()`);
    return infra.sync;
  }

  /**
   * The service's dynamic config: from `start()` on (at once when a `DynamicConfig` was
   * passed). `config.get(path)`, `config.watch(path, fn)`; `ctx.config` in handlers.
   */
  get config(): DynamicConfig {
    const given = this.options.config;
    if (given instanceof DynamicConfig) return given;
    const config = this.running?.config;
    if (!config) throw new FailedPreconditionError(`service ${this.name} has no config yet: it is read by start()`);
    return config;
  }

  /** The circuit state towards a target service. */
  circuitState(service: string): CircuitStateName {
    return this.breakers?.state(service) ?? 'closed';
  }

  /**
   * Connect (or use the shared infrastructure), check every schema id exists, serve the
   * methods, subscribe, and only then register — so whoever sees the record can reach it.
   * Idempotent. On failure everything started is closed again and the service is closed.
   */
  start(): Promise<void> {
    if (this.currentState === 'closing' || this.currentState === 'closed') {
      return Promise.reject(new ClosedError(`service "${this.name}" is closed`));
    }
    this.starting ??= this.doStart();
    return this.starting;
  }

  /**
   * Graceful shutdown, idempotent: deregister first (callers stop finding this
   * instance), stop taking requests and events and finish those in flight (at most
   * `shutdownTimeoutMs`), then close the infrastructure if this service built it.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  /**
   * Call `service.method` (e.g. `orders.create`). Rejects with a typed SwitchyardError.
   * `parent` is how `ctx.call` passes deadline, trace and caller on; top-level calls omit it.
   */
  call<T = unknown>(
    target: string,
    payload: unknown,
    options?: ServiceCallOptions,
    parent?: ParentContext | undefined,
  ): Promise<T> {
    // Allowed from the moment the caller exists (handlers may run before start() resolves) until closed.
    const caller = this.running?.caller;
    if (!caller || this.currentState === 'closed') return Promise.reject(this.notRunning());
    return caller.call(target, payload, options, parent) as Promise<T>;
  }

  /**
   * Open a server-streaming call to `service.method`: an async iterator of its items
   * (`for await (const item of service.stream(...))`). Breaking out of the loop, the
   * `signal` or the deadline (of the whole stream) cancel it on the server. Failures,
   * validation included, come out of the iterator.
   */
  stream<T = unknown>(
    target: string,
    payload: unknown,
    options?: ServiceStreamOptions,
    parent?: ParentContext | undefined,
  ): AsyncIterableIterator<T> {
    const streams = this.running?.streamCaller;
    if (!streams || this.currentState === 'closed') return failedStream(this.notRunning()) as AsyncIterableIterator<T>;
    return streams.stream(target, payload, options, parent) as AsyncIterableIterator<T>;
  }

  /**
   * Open a bidi stream to `service.method`: `send()` items (await each: that is the
   * backpressure), `end()` to half-close, iterate the server's items. Every item is checked
   * against the schema the target registered for its direction. Failures before the stream
   * opens come out of the first `send()` or `next()`. No default deadline (see ServiceBidiOptions).
   */
  bidi<In = unknown, Out = unknown>(
    target: string,
    options?: ServiceBidiOptions,
    parent?: ParentContext | undefined,
  ): ServiceBidiCall<In, Out> {
    return this.openBidi(target, options, parent, 'bidi') as ServiceBidiCall<In, Out>;
  }

  /** Open a client stream to `service.method`: `send()` the items, then `await end()` for the one reply. */
  clientStream<In = unknown, Res = unknown>(
    target: string,
    options?: ServiceBidiOptions,
    parent?: ParentContext | undefined,
  ): ServiceClientStream<In, Res> {
    return clientStreamOf(this.openBidi(target, options, parent, 'client')) as ServiceClientStream<In, Res>;
  }

  private openBidi(
    target: string,
    options: ServiceBidiOptions | undefined,
    parent: ParentContext | undefined,
    kind: 'bidi' | 'client',
  ) {
    const bidi = this.running?.bidiCaller;
    if (!bidi || this.currentState === 'closed') return new FailedBidi(this.notRunning() as never);
    return bidi.bidi(target, options, parent, kind);
  }

  emit(
    topic: string,
    payload: unknown,
    options?: EmitOptions,
    parent?: ParentContext | undefined,
  ): Promise<PublishReceipt> {
    const emitter = this.running?.emitter;
    if (!emitter || this.currentState === 'closed') return Promise.reject(this.notRunning());
    return emitter.emit(topic, payload, options, parent);
  }

  /**
   * With auth on: get a new token now instead of at the scheduled renewal (e.g. right after
   * a signing-key rotation, or to pick up changed scopes). Rejects like start() would.
   */
  async renewToken(): Promise<void> {
    const tokens = this.running?.tokens;
    if (!tokens)
      throw new FailedPreconditionError(`service "${this.name}" has no token: auth is off or it is not started`);
    await tokens.renew();
  }

  /** Handlers of `method` running right now (bulkhead occupancy). */
  activeHandlers(method: string): number {
    return this.running?.runners.get(method)?.bulkhead.active ?? 0;
  }

  private notRunning(): Error {
    return this.currentState === 'closed' || this.currentState === 'closing'
      ? new ClosedError(`service "${this.name}" is closed`)
      : new FailedPreconditionError(`service "${this.name}" is not started: await service.start() first`);
  }

  private async doStart(): Promise<void> {
    this.currentState = 'starting';
    const o = this.options;
    const infra = o.infra ?? (await createInfrastructure({ ...(o.env ? { env: o.env } : {}), logger: this.logger }));
    const r: Running = {
      infra,
      ownsInfra: o.infra === undefined,
      directory: undefined as unknown as TargetDirectory,
      caller: undefined as unknown as Caller,
      streamCaller: undefined as unknown as StreamCaller,
      bidiCaller: undefined as unknown as BidiStreamCaller,
      emitter: undefined as unknown as Emitter,
      runners: new Map(),
      server: undefined,
      subscriptions: [],
      registration: undefined,
      uninstallSignals: undefined,
      tokens: undefined,
      config: undefined,
      ownsConfig: false,
    };
    this.running = r;
    try {
      checkSchemaRefs(this.options, infra);
      await this.startConfig(infra, r);
      const transport = await this.identify(infra, r);
      const view = infra.registry.view();
      await this.waitForView(view.ready);
      const metrics = o.metricsRegistry ? new ServiceMetrics(o.metricsRegistry, this.name) : undefined;
      r.directory = new TargetDirectory(view);
      this.breakers =
        o.calls.circuitBreaker === false
          ? undefined
          : new CircuitBreakers(o.calls.circuitBreaker, (target, state) =>
              this.logger.warn({ target, circuit: state }, `circuit to ${target} is ${state}`),
            );
      r.caller = new Caller({
        service: this.name,
        transport,
        schemas: infra.schemas,
        directory: r.directory,
        defaults: o.calls,
        breakers: this.breakers,
        metrics,
        logger: this.logger,
      });
      r.streamCaller = new StreamCaller(r.caller);
      r.bidiCaller = new BidiStreamCaller(r.caller);
      r.emitter = new Emitter(this.name, transport, infra.schemas, o.emits);

      if (o.methods.length > 0 || o.streams.length > 0 || o.bidiMethods.length > 0) {
        const definitions: Record<string, ReturnType<MethodRunner['definition']>> = {};
        for (const m of o.methods) {
          const runner = new MethodRunner(this, m, infra.schemas, metrics);
          r.runners.set(m.name, runner);
          definitions[m.name] = runner.definition();
        }
        for (const m of o.streams) {
          const runner = new StreamRunner(this, m, infra.schemas, metrics);
          r.runners.set(m.name, runner);
          definitions[m.name] = runner.definition();
        }
        for (const m of o.bidiMethods) {
          const runner = new BidiRunner(this, m, infra.schemas, metrics);
          r.runners.set(m.name, runner);
          definitions[m.name] = runner.definition();
        }
        r.server = await transport.serve(this.name, definitions, { prefetch: o.prefetch });
      }
      for (const s of o.subscriptions) r.subscriptions.push(await subscribeWith(transport, this, s, infra.schemas));
      r.registration = await infra.registry.register(
        instanceRecord(this.options, this.name, this.version, this.instanceId),
      );
      if (o.handleSignals) r.uninstallSignals = installShutdownHandlers(this, { logger: this.logger });
      this.currentState = 'running';
      this.logger.info(
        {
          mode: infra.mode,
          namespace: infra.namespace,
          methods: o.methods.map((m) => m.name),
          ...(o.streams.length > 0 ? { streams: o.streams.map((m) => m.name) } : {}),
          ...(o.bidiMethods.length > 0 ? { bidi: o.bidiMethods.map((m) => `${m.name} (${m.kind})`) } : {}),
          subscriptions: o.subscriptions.map((s) => s.topic),
          auth: r.tokens ? { account: r.tokens.clientId } : 'off',
        },
        'service started',
      );
    } catch (err) {
      this.currentState = 'closing';
      const teardown = this.teardown(r);
      this.closing ??= teardown;
      await teardown;
      throw err;
    }
  }

  /**
   * With auth on: get this service's token (its credentials from the options or the
   * environment) and see the transport through it, so every request and event out
   * carries the token and every one in is verified before its handler. Else the shared
   * transport as it is.
   */
  private async identify(infra: Infrastructure, r: Running): Promise<Transport> {
    if (!infra.auth) return infra.transport;
    const credentials = this.options.credentials ?? credentialsFromEnv(this.options.env ?? process.env);
    if (!credentials) {
      throw new FailedPreconditionError(
        `service "${this.name}" has no credentials, but auth is on (${infra.auth.issuer}): pass \`credentials\` or set SWITCHYARD_CLIENT_ID and SWITCHYARD_CLIENT_SECRET`,
        { details: { option: 'credentials' } },
      );
    }
    r.tokens = infra.auth.tokenClient(credentials, this.logger);
    await r.tokens.start();
    return infra.auth.secure(infra.transport, r.tokens);
  }

  /** Read the config before serving: a handler's first request sees it, and a config that fails its schema stops the start. */
  private async startConfig(infra: Infrastructure, r: Running): Promise<void> {
    const given = this.options.config;
    if (given instanceof DynamicConfig) {
      r.config = given;
    } else {
      const { scope, remote, ...rest } = given;
      const source = remote === false ? undefined : (remote ?? infra.configSource(scope ?? this.name));
      r.config = new DynamicConfig({
        ...rest,
        ...(source ? { remote: source } : {}),
        ...(given.env === undefined && this.options.env ? { env: { env: this.options.env } } : {}),
        logger: this.logger.child({ component: 'config' }),
      });
      r.ownsConfig = true;
    }
    await r.config.start();
  }

  private async waitForView(ready: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, this.options.registryReadyTimeoutMs, 'timeout');
    });
    try {
      if ((await Promise.race([ready, timedOut])) === 'timeout') {
        this.logger.warn(
          { timeoutMs: this.options.registryReadyTimeoutMs },
          'registry view not synced yet: calls fail with SERVICE_NOT_FOUND (and are retried) until it is',
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async doClose(): Promise<void> {
    if (this.currentState === 'idle') {
      this.currentState = 'closed';
      return;
    }
    // A start in progress finishes (or fails and tears itself down) first, so nothing it opens is left behind.
    if (this.currentState === 'starting' && this.starting) {
      const failed = await this.starting.then(
        () => false,
        () => true,
      );
      if (failed) return;
    }
    const r = this.running;
    this.currentState = 'closing';
    if (!r) {
      this.currentState = 'closed';
      return;
    }
    await this.teardown(r);
  }

  private async teardown(r: Running): Promise<void> {
    r.uninstallSignals?.();
    await this.step('deregister', () => r.registration?.deregister());
    await this.step('drain', () =>
      this.bounded(Promise.all([r.server?.close(), ...r.subscriptions.map((s) => s.close())]).then(() => undefined)),
    );
    r.caller?.close();
    r.streamCaller?.close();
    r.bidiCaller?.close();
    r.directory?.close();
    r.tokens?.close();
    if (r.ownsConfig) await this.step('close config', () => r.config?.close());
    if (r.ownsInfra) await this.step('close infrastructure', () => r.infra.close());
    this.currentState = 'closed';
    this.logger.info({}, 'service closed');
  }

  /** One shutdown step; a failure is logged and the next step still runs. */
  private async step(what: string, fn: () => Promise<unknown> | undefined): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.logger.warn({ err, step: what }, 'shutdown step failed');
    }
  }

  private async bounded(p: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, this.options.shutdownTimeoutMs, 'timeout');
    });
    try {
      if ((await Promise.race([p, timeout])) === 'timeout') {
        this.logger.warn(
          { timeoutMs: this.options.shutdownTimeoutMs },
          'handlers still running at the shutdown timeout; closing anyway',
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Build a service (not started). Throws INVALID_OPTIONS naming the bad option. */
export function createService(options: ServiceOptions): Service {
  return new Service(options);
}

function defaultInstanceId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 80) || 'host';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
