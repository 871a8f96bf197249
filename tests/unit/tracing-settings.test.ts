import { tracingOn, tracingResourceAttributes, tracingSettings } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';

describe('tracing from the standard OTEL_* variables', () => {
  it('is off when nothing asks for traces, and no provider is registered', () => {
    const s = tracingSettings({});
    expect(s.enabled).toBe(false);
    expect(s.reason).toMatch(/neither OTEL_TRACES_EXPORTER nor/);
    // No test in this file registers a provider: the SDK's hot paths see tracing off.
    expect(tracingOn()).toBe(false);
  });

  it('an OTLP endpoint turns it on; the base endpoint gets /v1/traces, the per-signal one is used as is', () => {
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toMatchObject({
      enabled: true,
      exporters: ['otlp'],
      endpoint: 'http://collector:4318/v1/traces',
    });
    expect(
      tracingSettings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp',
      }).endpoint,
    ).toBe('https://traces.example/otlp');
  });

  it('OTEL_TRACES_EXPORTER names exporters; otlp alone defaults to localhost:4318', () => {
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({
      enabled: true,
      endpoint: 'http://localhost:4318/v1/traces',
    });
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'console, otlp,console' }).exporters).toEqual(['console', 'otlp']);
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'console' })).toMatchObject({
      exporters: ['console'],
      endpoint: undefined,
    });
  });

  it('none and OTEL_SDK_DISABLED switch it off even with an endpoint', () => {
    expect(
      tracingSettings({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).enabled,
    ).toBe(false);
    expect(tracingSettings({ OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp' }).enabled).toBe(false);
  });

  it('refuses what it cannot honour with CONFIG_INVALID and a message naming the variable', () => {
    const bad = [
      [{ OTEL_TRACES_EXPORTER: 'zipkin' }, /OTEL_TRACES_EXPORTER: "zipkin" is not supported/],
      [
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
        /OTEL_EXPORTER_OTLP_PROTOCOL: "grpc"/,
      ],
      [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318' }, /is not an http\(s\) URL/],
    ] as const;
    for (const [env, message] of bad) {
      expect(() => tracingSettings(env)).toThrow(message);
      try {
        tracingSettings(env);
      } catch (err) {
        expect((err as { code: string }).code).toBe('CONFIG_INVALID');
      }
    }
    // http/protobuf endpoints accept JSON too: allowed, sent as JSON.
    expect(
      tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' })
        .enabled,
    ).toBe(true);
  });
});

describe('the resource from OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME', () => {
  it('decodes the pairs; OTEL_SERVICE_NAME wins over both the attribute and the program', () => {
    expect(tracingResourceAttributes({ OTEL_RESOURCE_ATTRIBUTES: 'a=1, b=x%20y,bad,=v,c=%zz' }, 'prog')).toEqual({
      'service.name': 'prog',
      a: '1',
      b: 'x y',
    });
    expect(
      tracingResourceAttributes({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr', OTEL_SERVICE_NAME: 'env' }, 'prog')[
        'service.name'
      ],
    ).toBe('env');
    expect(tracingResourceAttributes({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr' }, 'prog')['service.name']).toBe(
      'attr',
    );
  });
});
