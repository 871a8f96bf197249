import { ConfigInvalidError } from '@switchyard/broker';

/** What the standard OTEL_* variables ask of tracing (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/). */
export interface TracingSettings {
  /** False when nothing asks for traces: no provider is registered and no span is made. */
  readonly enabled: boolean;
  /** Where spans go; never empty when enabled (`OTEL_TRACES_EXPORTER=none` disables tracing instead). */
  readonly exporters: readonly ('otlp' | 'console')[];
  /** The traces endpoint the OTLP exporter posts to, when `otlp` is among the exporters. */
  readonly endpoint: string | undefined;
  /** Why tracing is off, for the one log line a program writes at start. */
  readonly reason: string;
}

const DEFAULT_OTLP_BASE = 'http://localhost:4318';

/**
 * Tracing is on when `OTEL_TRACES_EXPORTER` names an exporter, or when an OTLP endpoint
 * is set (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`); off when
 * none is set, when `OTEL_TRACES_EXPORTER=none`, or with `OTEL_SDK_DISABLED=true`. Spans go
 * out as OTLP over HTTP (JSON encoding); `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` is refused with
 * a clear message rather than silently sending nothing.
 */
export function tracingSettings(env: Readonly<Record<string, string | undefined>>): TracingSettings {
  const off = (reason: string): TracingSettings => ({ enabled: false, exporters: [], endpoint: undefined, reason });
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return off('OTEL_SDK_DISABLED=true');
  const tracesEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const baseEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const named = nonEmpty(env.OTEL_TRACES_EXPORTER);
  let exporters: ('otlp' | 'console')[];
  if (named === undefined) {
    if (tracesEndpoint === undefined && baseEndpoint === undefined) {
      return off('neither OTEL_TRACES_EXPORTER nor an OTEL_EXPORTER_OTLP_*ENDPOINT is set');
    }
    exporters = ['otlp'];
  } else {
    const names = named
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== '');
    if (names.includes('none')) return off('OTEL_TRACES_EXPORTER=none');
    exporters = [];
    for (const n of names) {
      if (n !== 'otlp' && n !== 'console') {
        throw new ConfigInvalidError(`OTEL_TRACES_EXPORTER: "${n}" is not supported (use otlp, console or none)`, {
          details: { variable: 'OTEL_TRACES_EXPORTER', value: n },
        });
      }
      if (!exporters.includes(n)) exporters.push(n);
    }
  }
  let endpoint: string | undefined;
  if (exporters.includes('otlp')) {
    const protocol = (
      nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL)
    )?.toLowerCase();
    if (protocol !== undefined && protocol !== 'http/json' && protocol !== 'http/protobuf') {
      throw new ConfigInvalidError(
        `OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not supported; Switchyard exports OTLP over HTTP (http/json or http/protobuf endpoints, sent as JSON)`,
        { details: { variable: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: protocol } },
      );
    }
    // The per-signal endpoint is used as is; the base one gets /v1/traces appended (the spec's rule).
    endpoint = tracesEndpoint ?? `${(baseEndpoint ?? DEFAULT_OTLP_BASE).replace(/\/+$/, '')}/v1/traces`;
    try {
      const u = new URL(endpoint);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw new ConfigInvalidError(`the OTLP traces endpoint "${endpoint}" is not an http(s) URL`, {
        details: { endpoint },
      });
    }
  }
  return { enabled: true, exporters, endpoint, reason: 'on' };
}

function nonEmpty(v: string | undefined): string | undefined {
  const s = v?.trim();
  return s === undefined || s === '' ? undefined : s;
}
