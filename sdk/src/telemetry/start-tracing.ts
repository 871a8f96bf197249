import { trace } from '@opentelemetry/api';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type TracingSettings, tracingSettings } from './tracing-settings.js';

export interface TracingOptions {
  /** The resource's `service.name` unless `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` name one. */
  serviceName?: string;
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Send spans here instead of the exporters the environment names (tests, custom sinks);
   * turns tracing on whatever the environment says. Spans go out one by one (no batching)
   * so a test sees each span as soon as it ends.
   */
  exporter?: SpanExporter;
  /**
   * Register a provider that records spans but exports none: what tracing costs before
   * any exporter (the benchmark's "on, no exporter" row). Default false.
   */
  recordOnly?: boolean;
  /**
   * Register an AsyncLocalStorage context manager, so that `context.active()` follows the
   * async flow: user code that opens spans inside a handler nests them under the handler's
   * span, and a `service.call()` made under another library's active span continues it.
   * Default true. Switchyard's own spans never need it (they pass their parent explicitly),
   * and on Node 20 it costs every promise a hook: the gateway's main turns it off.
   */
  asyncContext?: boolean;
}

/** A registered tracer provider, or the record that none was. */
export interface Tracing {
  readonly enabled: boolean;
  readonly settings: TracingSettings;
  /** Export what is buffered now. */
  flush(): Promise<void>;
  /** Flush, stop exporting and unregister the provider. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Where a process starts (the gateway's main, a service's entry point): register
 * OpenTelemetry's Node tracer provider, W3C trace-context propagation and an async
 * context manager, exporting as the standard `OTEL_*` variables say (docs/sdk.md#tracing).
 * Libraries only ever use `@opentelemetry/api`; the SDK packages are loaded here, on
 * demand, so a process that never traces never loads them.
 *
 * Off (nothing registered, nothing loaded) unless the environment asks for traces or an
 * `exporter` is given. Throws ConfigInvalidError on a variable it cannot honour.
 */
export async function startTracing(options: TracingOptions = {}): Promise<Tracing> {
  const env = options.env ?? process.env;
  const settings: TracingSettings =
    options.exporter !== undefined || options.recordOnly === true
      ? { enabled: true, exporters: [], endpoint: undefined, reason: 'on' }
      : tracingSettings(env);
  if (!settings.enabled) {
    return { enabled: false, settings, flush: async () => {}, shutdown: async () => {} };
  }
  const [node, base, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
  ]);
  const processors: SpanProcessor[] = [];
  if (options.exporter !== undefined) processors.push(new base.SimpleSpanProcessor(options.exporter));
  for (const name of settings.exporters) {
    if (name === 'console') processors.push(new base.SimpleSpanProcessor(new base.ConsoleSpanExporter()));
    else {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      // Batched (OTEL_BSP_* tune it): one POST per batch, off the request path.
      processors.push(new base.BatchSpanProcessor(new OTLPTraceExporter({ url: settings.endpoint })));
    }
  }
  const resource = resources.resourceFromAttributes(tracingResourceAttributes(env, options.serviceName));
  const provider = new node.NodeTracerProvider({ resource, spanProcessors: processors });
  // null: no context manager at all (the API's no-op one stays), rather than the default ALS one.
  provider.register(options.asyncContext === false ? { contextManager: null } : {});
  let closed: Promise<void> | undefined;
  return {
    enabled: true,
    settings,
    flush: () => provider.forceFlush(),
    shutdown: () => {
      closed ??= provider.shutdown().finally(() => trace.disable());
      return closed;
    },
  };
}

/**
 * The resource, read from `env` (not only process.env, unlike OTel's envDetector):
 * `OTEL_RESOURCE_ATTRIBUTES` (`k=v,k2=v2`, values percent-encoded), then `OTEL_SERVICE_NAME`,
 * both winning over the name the program gives.
 */
export function tracingResourceAttributes(
  env: Readonly<Record<string, string | undefined>>,
  serviceName: string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (serviceName !== undefined) out['service.name'] = serviceName;
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // A malformed escape: the spec says to drop the attribute, not the whole variable.
    }
  }
  const name = env.OTEL_SERVICE_NAME?.trim();
  if (name) out['service.name'] = name;
  return out;
}
