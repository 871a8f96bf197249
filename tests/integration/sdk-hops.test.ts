/**
 * What travels across hops: A calls B with a deadline and a trace, B's handler calls C
 * with ctx.call — C sees A's absolute deadline, the same trace id under a new span id, and
 * A's caller identity; C being slow makes A fail with DEADLINE_EXCEEDED at A's deadline.
 * Events emitted from a handler carry the trace on. Real etcd and RabbitMQ.
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CallContext,
  createEtcdClient,
  createInfrastructure,
  createService,
  type EventContext,
  type Infrastructure,
  parseTraceparent,
  SchemaPublisher,
  type Service,
} from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SDK_SCHEMA, writeSdkSchemas } from '../fixtures/sdk-schemas.js';
import { rejection } from '../harness/rejection.js';
import { uniqueNamespace } from '../harness/servers.js';

const namespace = uniqueNamespace('sdk-hops');
let schemasDir: string;
let infra: Infrastructure;
let a: Service;
let b: Service;
let c: Service;
let d: Service;

interface Seen {
  deadline: number | undefined;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  caller: string | undefined;
  source: string | undefined;
}
const seen: Record<string, Seen> = {};
const see = (name: string, ctx: CallContext | EventContext) => {
  seen[name] = {
    deadline: ctx.deadline,
    traceId: ctx.trace.traceId,
    spanId: ctx.trace.spanId,
    parentSpanId: ctx.trace.parentSpanId,
    caller: ctx.caller,
    source: ctx.source,
  };
};
let eventSeen: (() => void) | undefined;

beforeAll(async () => {
  schemasDir = writeSdkSchemas();
  infra = await createInfrastructure({
    env: {
      SWITCHYARD_ETCD: inject('etcdEndpoint'),
      SWITCHYARD_AMQP: inject('amqpUrl'),
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_SCHEMAS: schemasDir,
    },
    logger: pino({ level: 'silent' }),
  });
  c = createService({
    name: 'sdk-hop-c',
    version: '1.0.0',
    infra,
    methods: {
      slow: async (p: { waitMs: number }, ctx) => {
        see('c', ctx);
        await sleep(p.waitMs, undefined, { signal: ctx.signal }).catch(() => undefined);
        return { from: 'c' };
      },
    },
  });
  b = createService({
    name: 'sdk-hop-b',
    version: '1.0.0',
    infra,
    emits: { 'sdk.hop.done': SDK_SCHEMA.hopEvent, 'sdk.hop.loose': null },
    methods: {
      relay: async (p: { waitMs: number }, ctx) => {
        see('b', ctx);
        const reply = await ctx.call('sdk-hop-c.slow', p);
        await ctx.emit('sdk.hop.done', { step: 'b' });
        return reply;
      },
    },
  });
  d = createService({
    name: 'sdk-hop-d',
    version: '1.0.0',
    infra,
    subscriptions: {
      'sdk.hop.done': {
        schema: SDK_SCHEMA.hopEvent,
        handler: (_p: { step: string }, ctx) => {
          see('d', ctx);
          eventSeen?.();
        },
      },
    },
  });
  a = createService({ name: 'sdk-hop-a', version: '1.0.0', infra });
  await Promise.all([c.start(), b.start(), d.start()]);
  await a.start();
}, 60_000);

afterAll(async () => {
  for (const s of [a, b, c, d]) await s?.close();
  await infra?.close();
  rmSync(schemasDir, { recursive: true, force: true });
});

describe('across hops', () => {
  it('honours the first caller’s deadline two hops later', async () => {
    const deadline = Date.now() + 800;
    const started = Date.now();
    const err = await rejection(a.call('sdk-hop-b.relay', { waitMs: 5_000 }, { deadline }));
    const elapsed = Date.now() - started;
    console.log(
      `A got ${err.code} after ${elapsed} ms (deadline 800 ms); B saw ${seen.b?.deadline}, C saw ${seen.c?.deadline}, A set ${deadline}`,
    );
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(seen.b?.deadline).toBe(deadline);
    expect(seen.c?.deadline).toBe(deadline);
    expect(elapsed).toBeGreaterThanOrEqual(750);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('keeps the trace id and takes a new span id on every hop, and passes the caller identity on', async () => {
    const root = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const done = new Promise<void>((resolve) => {
      eventSeen = resolve;
    });
    await expect(a.call('sdk-hop-b.relay', { waitMs: 0 }, { traceparent: root, caller: 'user-42' })).resolves.toEqual({
      from: 'c',
    });
    await done;
    const rootTrace = parseTraceparent(root)!;
    for (const hop of ['b', 'c', 'd'] as const) expect(seen[hop]!.traceId).toBe(rootTrace.traceId);
    const spans = [rootTrace.parentSpanId, seen.b!.spanId, seen.c!.spanId, seen.d!.spanId];
    expect(new Set(spans).size).toBe(4);
    // B's span is the parent of both its call to C and its event.
    expect(seen.c!.parentSpanId).toBe(seen.b!.spanId);
    expect(seen.d!.parentSpanId).toBe(seen.b!.spanId);
    expect(seen.b!.caller).toBe('user-42');
    expect(seen.c!.caller).toBe('user-42');
    expect(seen.b!.source).toBe('sdk-hop-a');
    expect(seen.c!.source).toBe('sdk-hop-b');
    expect(seen.d!.source).toBe('sdk-hop-b');
    console.log(`trace ${rootTrace.traceId}: spans ${spans.join(' -> ')}`);
  });

  it('starts a trace when the first caller has none, and names the calling service as the caller', async () => {
    await a.call('sdk-hop-b.relay', { waitMs: 0 });
    expect(seen.b!.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(seen.c!.traceId).toBe(seen.b!.traceId);
    expect(seen.b!.caller).toBe('sdk-hop-a');
  });

  it('validates events before publishing them', async () => {
    await expect(b.emit('sdk.hop.done', { step: 7 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.emit('sdk.hop.undeclared', {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // Declared without a schema: anything goes, but nobody subscribes, which the transport reports.
    await expect(b.emit('sdk.hop.loose', { any: 'thing' })).rejects.toMatchObject({ code: 'UNROUTABLE' });
  });

  it('registers methods, events, event schema ids and subscription groups', () => {
    const [rec] = infra.registry.view().instances('sdk-hop-b');
    expect(rec?.methods.relay).toEqual({ idempotent: false });
    // A topic declared with `null` has no schema: it is left out of `schemas`, not written as null.
    expect(rec?.events).toEqual({
      emits: ['sdk.hop.done', 'sdk.hop.loose'],
      subscribes: [],
      schemas: { 'sdk.hop.done': SDK_SCHEMA.hopEvent },
      subscriptions: [],
    });
    expect(rec?.metadata['emits.sdk.hop.done']).toBe(SDK_SCHEMA.hopEvent);
    const [sub] = infra.registry.view().instances('sdk-hop-d');
    expect(sub?.events.subscribes).toEqual(['sdk.hop.done']);
    // No `group` given: the group is the service's name.
    expect(sub?.events.subscriptions).toEqual([
      { topic: 'sdk.hop.done', group: 'sdk-hop-d', schema: SDK_SCHEMA.hopEvent },
    ]);
  });

  it('reads schemas published to etcd when SWITCHYARD_SCHEMAS=etcd', async () => {
    const ns = uniqueNamespace('sdk-etcd-schemas');
    const client = createEtcdClient(inject('etcdEndpoint'));
    try {
      await new SchemaPublisher({ client, namespace: ns }).publishDirectory(schemasDir);
      const etcdInfra = await createInfrastructure({
        env: {
          SWITCHYARD_ETCD: inject('etcdEndpoint'),
          SWITCHYARD_AMQP: inject('amqpUrl'),
          SWITCHYARD_NAMESPACE: ns,
          SWITCHYARD_SCHEMAS: 'etcd',
        },
        logger: pino({ level: 'silent' }),
      });
      const echo = createService({
        name: 'sdk-etcd-echo',
        version: '1.0.0',
        infra: etcdInfra,
        methods: { echo: { request: SDK_SCHEMA.echoRequest, handler: (p: { text: string }) => ({ text: p.text }) } },
      });
      try {
        expect(etcdInfra.config.schemas).toEqual({ kind: 'etcd' });
        await echo.start();
        await expect(echo.call('sdk-etcd-echo.echo', { text: 'from etcd' })).resolves.toEqual({ text: 'from etcd' });
        await expect(echo.call('sdk-etcd-echo.echo', { text: 3 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      } finally {
        await echo.close();
        await etcdInfra.close();
      }
    } finally {
      await client.delete().prefix(`/${ns}/`);
      client.close();
    }
  });
});
