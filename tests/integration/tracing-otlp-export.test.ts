/**
 * The exporter the environment names really sends: startTracing() with
 * OTEL_EXPORTER_OTLP_ENDPOINT posts OTLP/HTTP JSON to a local endpoint, with the resource
 * from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, and shutdown() flushes what is batched.
 */
import { createInfrastructure, createService, startTracing } from '@switchyard/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { quietLogger } from '../fixtures/gateway-harness.js';
import { startOtlpSink } from '../fixtures/otlp-sink.js';

const sink = await startOtlpSink();
afterAll(() => sink.close());

describe('OTLP over HTTP from OTEL_* variables', () => {
  it('exports the spans of a call to the endpoint, batched, flushed on shutdown', async () => {
    const tracing = await startTracing({
      serviceName: 'overridden-by-env',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
        OTEL_SERVICE_NAME: 'otlp-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      },
    });
    expect(tracing.enabled).toBe(true);
    expect(tracing.settings.endpoint).toBe(`${sink.url}/v1/traces`);
    const infra = await createInfrastructure({ env: {}, logger: quietLogger });
    const svc = createService({ name: 'echo', version: '1.0.0', infra, methods: { echo: (x: unknown) => x } });
    await svc.start();
    const caller = createService({ name: 'caller', version: '1.0.0', infra });
    await caller.start();
    await caller.call('echo.echo', { hi: 1 });
    await caller.close();
    await svc.close();
    await infra.close();
    // Batched: nothing needs to have gone out yet; shutdown must flush it.
    await tracing.shutdown();
    expect(sink.posts).toBeGreaterThan(0);
    const client = sink.spans.find((s) => s.name === 'echo/echo' && s.kind === 3);
    const server = sink.spans.find((s) => s.name === 'echo/echo' && s.kind === 2);
    expect(client?.service).toBe('otlp-test');
    expect(server?.parentSpanId).toBe(client?.spanId);
    expect(server?.traceId).toBe(client?.traceId);
    expect(client?.attributes).toMatchObject({ 'rpc.system': 'switchyard', 'rpc.method': 'echo' });
    // The memory transport is not a messaging system: no messaging.system on its spans.
    expect(client?.attributes['messaging.system']).toBeUndefined();
    // After shutdown the provider is gone: nothing more is recorded.
    const { tracingOn } = await import('@switchyard/sdk');
    expect(tracingOn()).toBe(false);
  });
});
