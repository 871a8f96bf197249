/**
 * Embedded mode: with neither SWITCHYARD_ETCD nor SWITCHYARD_AMQP set, the same service
 * code runs on the in-process registry and transport, and says so exactly once.
 */
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { createInfrastructure, createService, type ServiceOptions } from '@switchyard/sdk';
import { pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SDK_SCHEMA, writeSdkSchemas } from '../fixtures/sdk-schemas.js';

let schemasDir: string;

/** A pino logger writing JSON lines into an array. */
function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

const embeddedLines = (lines: Array<Record<string, unknown>>) =>
  lines.filter((l) => l.mode === 'embedded' && /embedded/.test(String(l.msg)));

/** The same definition a deployed service would use. */
const echoService = (extra: Partial<ServiceOptions>): ServiceOptions => ({
  name: 'sdk-embedded-echo',
  version: '1.0.0',
  methods: {
    echo: {
      request: SDK_SCHEMA.echoRequest,
      response: SDK_SCHEMA.echoReply,
      handler: (p: { text: string }, ctx) => ({ text: `${p.text} via ${ctx.caller}` }),
    },
  },
  ...extra,
});

beforeAll(() => {
  schemasDir = writeSdkSchemas();
});
afterAll(() => rmSync(schemasDir, { recursive: true, force: true }));

describe('embedded mode', () => {
  it('runs services sharing one in-process infrastructure and logs the mode once', async () => {
    const { logger, lines } = capture();
    const infra = await createInfrastructure({ env: { SWITCHYARD_SCHEMAS: schemasDir }, logger });
    expect(infra.mode).toBe('embedded');
    expect(infra.transport.kind).toBe('memory');
    const server = createService(echoService({ infra }));
    const client = createService({ name: 'sdk-embedded-client', version: '1.0.0', infra });
    await server.start();
    await client.start();
    await expect(client.call('sdk-embedded-echo.echo', { text: 'hello' })).resolves.toEqual({
      text: 'hello via sdk-embedded-client',
    });
    await expect(client.call('sdk-embedded-echo.echo', { text: 1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await client.close();
    await server.close();
    await infra.close();
    const said = embeddedLines(lines);
    console.log(`embedded log line: ${JSON.stringify(said[0]?.msg)} (${said.length} such line)`);
    expect(said).toHaveLength(1);
    expect(said[0]!.level).toBe(40);
    expect(lines.some((l) => l.msg === 'service started' && l.mode === 'embedded')).toBe(true);
  });

  it('builds and owns its own embedded infrastructure when given none, and closes it', async () => {
    const { logger, lines } = capture();
    const service = createService(echoService({ env: { SWITCHYARD_SCHEMAS: schemasDir }, logger }));
    await service.start();
    expect(service.infra?.mode).toBe('embedded');
    await expect(service.call('sdk-embedded-echo.echo', { text: 'self' })).resolves.toEqual({
      text: 'self via sdk-embedded-echo',
    });
    const transport = service.infra!.transport;
    await service.close();
    expect(transport.state).toBe('closed');
    expect(embeddedLines(lines)).toHaveLength(1);
    expect(service.state).toBe('closed');
    await expect(service.call('sdk-embedded-echo.echo', { text: 'late' })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('records handled and outgoing calls by method and code in a shared prom-client registry', async () => {
    const { logger } = capture();
    const metrics = new MetricsRegistry();
    const infra = await createInfrastructure({ env: { SWITCHYARD_SCHEMAS: schemasDir }, logger });
    const server = createService(echoService({ infra, metricsRegistry: metrics }));
    const client = createService({ name: 'sdk-embedded-client', version: '1.0.0', infra, metricsRegistry: metrics });
    await server.start();
    await client.start();
    for (let i = 0; i < 3; i++) await client.call('sdk-embedded-echo.echo', { text: 'x' });
    await infra.transport.call('sdk-embedded-echo', 'echo', { nope: 1 }).catch(() => undefined);
    await client.call('sdk-embedded-echo.echo', { text: 1 }).catch(() => undefined);
    const value = async (name: string, labels: Record<string, string>) =>
      (await metrics.getSingleMetric(name)!.get()).values.find((v) =>
        Object.entries(labels).every(([k, x]) => v.labels[k] === x),
      )?.value;
    expect(
      await value('switchyard_service_handled_total', { service: 'sdk-embedded-echo', method: 'echo', code: 'OK' }),
    ).toBe(3);
    expect(await value('switchyard_service_handled_total', { method: 'echo', code: 'INVALID_ARGUMENT' })).toBe(1);
    expect(
      await value('switchyard_service_calls_total', {
        service: 'sdk-embedded-client',
        target: 'sdk-embedded-echo',
        code: 'OK',
      }),
    ).toBe(3);
    expect(await value('switchyard_service_calls_total', { code: 'INVALID_ARGUMENT' })).toBe(1);
    const text = await metrics.metrics();
    expect(text).toContain('switchyard_service_handle_seconds_bucket');
    await client.close();
    await server.close();
    await infra.close();
  });

  it('refuses to start when a schema id is not loaded, naming the option', async () => {
    const { logger } = capture();
    const service = createService({
      name: 'sdk-embedded-bad',
      version: '1.0.0',
      env: { SWITCHYARD_SCHEMAS: schemasDir },
      logger,
      methods: { get: { request: 'https://schemas.switchyard.test/nope.json', handler: () => ({}) } },
    });
    await expect(service.start()).rejects.toMatchObject({
      code: 'SCHEMA_NOT_FOUND',
      details: { option: 'methods.get.request' },
    });
    expect(service.state).toBe('closed');
  });
});
