import { rmSync } from 'node:fs';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { FailedPreconditionError } from '@switchyard/broker';
import { createInfrastructure, createService, type Infrastructure, type Service, startTracing } from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SDK_SCHEMA, writeSdkSchemas } from '../fixtures/sdk-schemas.js';

// With a tracer provider, a stream is one CLIENT span on the caller and one SERVER span on
// the server (its child), each covering the whole stream and ended with it; a stream that
// fails marks both with its code.

const exporter = new InMemorySpanExporter();
const logger = pino({ level: 'silent' });
let tracing: Awaited<ReturnType<typeof startTracing>>;
let schemasDir: string;
let infra: Infrastructure;
let clock: Service;
let reader: Service;

beforeAll(async () => {
  tracing = await startTracing({ exporter, serviceName: 'stream-spans' });
  schemasDir = writeSdkSchemas();
  infra = await createInfrastructure({ env: { SWITCHYARD_SCHEMAS: schemasDir }, logger });
  clock = createService({
    name: 'clock',
    version: '1.0.0',
    infra,
    logger,
    streams: {
      ticks: {
        request: SDK_SCHEMA.ticksRequest,
        item: SDK_SCHEMA.tick,
        handler: async function* (req: { count: number; badAt?: number }) {
          for (let n = 0; n < req.count; n++) yield n === req.badAt ? { n: -1 } : { n };
        },
      },
    },
    methods: {
      echo: {
        kind: 'bidi',
        handler: async function* (input: AsyncIterable<unknown>) {
          for await (const x of input) {
            if (x === 'stop') throw new FailedPreconditionError('told to stop');
            yield x;
          }
        },
      },
    },
  });
  reader = createService({ name: 'reader', version: '1.0.0', infra, logger });
  await clock.start();
  await reader.start();
});

afterAll(async () => {
  await reader?.close();
  await clock?.close();
  await infra?.close();
  await tracing?.shutdown();
  rmSync(schemasDir, { recursive: true, force: true });
});

async function spansOf(
  run: () => Promise<unknown>,
  name = 'clock/ticks',
): Promise<{ client: ReadableSpan; server: ReadableSpan }> {
  exporter.reset();
  await run().catch(() => undefined);
  await tracing.flush();
  const spans = exporter.getFinishedSpans().filter((s) => s.name === name);
  const client = spans.find((s) => s.kind === SpanKind.CLIENT);
  const server = spans.find((s) => s.kind === SpanKind.SERVER);
  if (!client || !server) throw new Error(`spans missing: ${spans.map((s) => `${s.name}/${s.kind}`).join(', ')}`);
  return { client, server };
}

describe('stream spans', () => {
  it('a CLIENT span and its child SERVER span, both over the whole stream', async () => {
    const { client, server } = await spansOf(async () => {
      for await (const _ of reader.stream('clock.ticks', { count: 20 })) {
      }
    });
    expect(server.spanContext().traceId).toBe(client.spanContext().traceId);
    expect(server.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    expect(server.attributes['rpc.method']).toBe('ticks');
    expect(client.attributes['error.type']).toBeUndefined();
    expect(server.attributes['error.type']).toBeUndefined();
  });

  it('a stream that fails marks both spans with its code', async () => {
    const { client, server } = await spansOf(async () => {
      for await (const _ of reader.stream('clock.ticks', { count: 5, badAt: 2 }, { validateItems: false })) {
      }
    });
    expect(server.attributes['error.type']).toBe('STREAM_ITEM_INVALID');
    expect(client.attributes['error.type']).toBe('STREAM_ITEM_INVALID');
  });

  it('a bidi stream: one CLIENT span and its child SERVER span over the whole stream, marked with its code when it fails', async () => {
    const talk = async (items: unknown[]) => {
      const call = reader.bidi('clock.echo');
      for (const x of items) await call.send(x);
      await call.end();
      for await (const _ of call) {
      }
    };
    const ok = await spansOf(() => talk([1, 2, 3]), 'clock/echo');
    expect(ok.server.parentSpanContext?.spanId).toBe(ok.client.spanContext().spanId);
    expect(ok.server.attributes['rpc.method']).toBe('echo');
    expect(ok.client.attributes['error.type']).toBeUndefined();
    const failed = await spansOf(() => talk([1, 'stop']), 'clock/echo');
    expect(failed.server.attributes['error.type']).toBe('FAILED_PRECONDITION');
    expect(failed.client.attributes['error.type']).toBe('FAILED_PRECONDITION');
  });
});
