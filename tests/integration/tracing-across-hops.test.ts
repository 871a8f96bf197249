/**
 * One trace across every kind of hop, on the real etcd and RabbitMQ, recorded by an
 * in-memory span exporter: client → gateway (SERVER) → upstream exchange (CLIENT) → an
 * HTTP service (its own SERVER span, as an instrumented server would make) → RPC (CLIENT,
 * then the method's SERVER) → event publish (PRODUCER) → event handler (CONSUMER). Each
 * span must be the child of the one before it, all in the client's trace.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { routeKey } from '@switchyard/gateway';
import {
  createService,
  FailedPreconditionError,
  type Infrastructure,
  type Registration,
  remoteParent,
  type Service,
  startTracing,
  type Tracing,
} from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { eventually, type RunningGateway, send, serversInfra, startGateway } from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

const namespace = uniqueNamespace('tracing');
const exporter = new InMemorySpanExporter();
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

let tracing: Tracing;
let etcd: Etcd3;
let infra: Infrastructure;
let payments: Service;
let ledger: Service;
let orders: Service;
let ordersHttp: Server;
let ordersRegistration: Registration;
let gw: RunningGateway;
const ledgerSaw: Array<{ traceId: string; spanId: string }> = [];

beforeAll(async () => {
  tracing = await startTracing({ exporter, serviceName: 'tracing-test' });
  etcd = new Etcd3({ hosts: inject('etcdEndpoint') });
  infra = await serversInfra({ etcd: inject('etcdEndpoint'), amqp: inject('amqpUrl'), namespace });
  payments = createService({
    name: 'payments',
    version: '1.0.0',
    infra,
    emits: { 'payments.charged': null },
    methods: {
      charge: async (req: { orderId: string }, ctx) => {
        await ctx.emit('payments.charged', { orderId: req.orderId });
        return { charged: req.orderId };
      },
      refuse: () => {
        throw new FailedPreconditionError('card declined');
      },
      crash: () => {
        throw new Error('boom');
      },
    },
  });
  ledger = createService({
    name: 'ledger',
    version: '1.0.0',
    infra,
    subscriptions: {
      'payments.charged': {
        group: 'ledger',
        handler: (_event: unknown, ctx) => {
          ledgerSaw.push({ traceId: ctx.trace.traceId, spanId: ctx.trace.spanId });
        },
      },
    },
  });
  // The caller inside the HTTP service: an SDK service that only calls.
  orders = createService({ name: 'orders', version: '1.0.0', infra });
  await Promise.all([payments.start(), ledger.start(), orders.start()]);

  // An HTTP service as an OTel-instrumented server would be: a SERVER span continuing the
  // incoming traceparent, active while the handler calls payments.charge.
  ordersHttp = createServer((req, res) => {
    const parent = remoteParent(req.headers.traceparent as string | undefined);
    const span = trace.getTracer('orders-http').startSpan('POST /orders', { kind: SpanKind.SERVER }, parent);
    void context.with(trace.setSpan(parent, span), async () => {
      try {
        const reply = await orders.call('payments.charge', { orderId: 'ord-1' });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      } catch (err) {
        res.writeHead(502).end(String(err));
      } finally {
        span.end();
      }
    });
  });
  await new Promise<void>((r) => ordersHttp.listen(0, '127.0.0.1', r));
  ordersRegistration = await infra.registry.register({
    service: 'orders-http',
    version: '1.0.0',
    address: { http: `http://127.0.0.1:${(ordersHttp.address() as AddressInfo).port}` },
  });

  const routes = [
    {
      id: 'orders',
      match: { path: '/api/orders', methods: ['POST'] },
      target: { type: 'http', service: 'orders-http' },
    },
    {
      id: 'charge',
      match: { path: '/api/charge/:kind', methods: ['POST'] },
      target: { type: 'rpc', service: 'payments', method: 'charge' },
    },
    {
      id: 'refuse',
      match: { path: '/api/refuse', methods: ['POST'] },
      target: { type: 'rpc', service: 'payments', method: 'refuse' },
    },
    {
      id: 'crash',
      match: { path: '/api/crash', methods: ['POST'] },
      target: { type: 'rpc', service: 'payments', method: 'crash' },
    },
  ];
  for (const r of routes)
    await etcd.put(routeKey(namespace, r.id)).value(JSON.stringify({ ...r, auth: { mode: 'off' } }));
  gw = await startGateway({ infra });
  await eventually(async () => expect((await post('/api/orders')).status).toBe(200), 15_000);
  await eventually(async () => expect((await post('/api/charge/card')).status).toBe(200), 15_000);
}, 60_000);

afterAll(async () => {
  await gw?.gateway.close();
  await ordersRegistration?.deregister().catch(() => {});
  await new Promise<void>((r) => (ordersHttp ? ordersHttp.close(() => r()) : r()));
  for (const s of [orders, ledger, payments]) await s?.close();
  await infra?.close();
  await etcd?.delete().prefix(`/${namespace}/`);
  etcd?.close();
  await tracing?.shutdown();
});

beforeEach(() => {
  exporter.reset();
});

function post(path: string, headers: Record<string, string> = {}) {
  return send(gw.url, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: '{"orderId":"ord-2"}',
  });
}

const finished = () => exporter.getFinishedSpans();
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/** The one finished span of this trace with this name and kind (fails when there are none or several). */
function only(traceId: string, name: string, kind: SpanKind): ReadableSpan {
  const found = finished().filter((s) => s.spanContext().traceId === traceId && s.name === name && s.kind === kind);
  expect(
    found.map((s) => `${s.name}/${SpanKind[s.kind]}`),
    `spans named ${name}`,
  ).toEqual([`${name}/${SpanKind[kind]}`]);
  return found[0]!;
}

describe('one trace from the client to the event handler', () => {
  it('gateway → HTTP service → RPC → event handler, each span the child of the one before', async () => {
    const r = await post('/api/orders', { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
    expect(r.status).toBe(200);
    // The event handler runs after the reply; wait for its span.
    const consumer = await eventually(() => only(CLIENT_TRACE, 'process payments.charged', SpanKind.CONSUMER));

    const gwServer = only(CLIENT_TRACE, 'POST /api/orders', SpanKind.SERVER);
    const gwClient = only(CLIENT_TRACE, 'POST', SpanKind.CLIENT);
    const httpServer = only(CLIENT_TRACE, 'POST /orders', SpanKind.SERVER);
    const rpcClient = only(CLIENT_TRACE, 'payments/charge', SpanKind.CLIENT);
    const rpcServer = only(CLIENT_TRACE, 'payments/charge', SpanKind.SERVER);
    const producer = only(CLIENT_TRACE, 'publish payments.charged', SpanKind.PRODUCER);

    expect(parentOf(gwServer)).toBe(CLIENT_SPAN);
    expect(parentOf(gwClient)).toBe(gwServer.spanContext().spanId);
    expect(parentOf(httpServer)).toBe(gwClient.spanContext().spanId);
    expect(parentOf(rpcClient)).toBe(httpServer.spanContext().spanId);
    expect(parentOf(rpcServer)).toBe(rpcClient.spanContext().spanId);
    expect(parentOf(producer)).toBe(rpcServer.spanContext().spanId);
    expect(parentOf(consumer)).toBe(producer.spanContext().spanId);

    expect(gwServer.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/api/orders',
      'http.response.status_code': 200,
      'switchyard.route.id': 'orders',
    });
    expect(gwClient.attributes).toMatchObject({ 'http.response.status_code': 200 });
    expect(rpcClient.attributes).toMatchObject({
      'rpc.system': 'switchyard',
      'rpc.service': 'payments',
      'rpc.method': 'charge',
      'messaging.system': 'rabbitmq',
    });
    expect(rpcServer.attributes).toMatchObject({ 'rpc.service': 'payments', 'rpc.method': 'charge' });
    expect(producer.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'publish',
      'messaging.destination.name': 'payments.charged',
    });
    expect(producer.attributes['messaging.message.id']).toEqual(expect.any(String));
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': 'ledger',
      'messaging.message.id': producer.attributes['messaging.message.id'],
    });
    // What the handler saw as ctx.trace is its span.
    expect(ledgerSaw.at(-1)).toEqual({ traceId: CLIENT_TRACE, spanId: consumer.spanContext().spanId });
  });

  it('an HTTP → RPC route: the gateway CLIENT span is the method SERVER span parent; a request without traceparent starts a trace', async () => {
    const r = await post('/api/charge/card');
    expect(r.status).toBe(200);
    const gwServer = await eventually(() => {
      const s = finished().find((x) => x.name === 'POST /api/charge/:kind' && x.kind === SpanKind.SERVER);
      expect(s).toBeDefined();
      return s!;
    });
    const traceId = gwServer.spanContext().traceId;
    expect(traceId).not.toBe(CLIENT_TRACE);
    expect(gwServer.parentSpanContext).toBeUndefined();
    expect(gwServer.attributes['http.route']).toBe('/api/charge/:kind');
    expect(gwServer.attributes['url.path']).toBe('/api/charge/card');
    const gwClient = only(traceId, 'payments/charge', SpanKind.CLIENT);
    const rpcServer = only(traceId, 'payments/charge', SpanKind.SERVER);
    expect(parentOf(gwClient)).toBe(gwServer.spanContext().spanId);
    expect(parentOf(rpcServer)).toBe(gwClient.spanContext().spanId);
    await eventually(() => only(traceId, 'process payments.charged', SpanKind.CONSUMER));
  });

  it('errors carry our code: a 4xx is error.type only, a 5xx also marks the span failed', async () => {
    const refused = await post('/api/refuse', { traceparent: `00-${'a'.repeat(32)}-${CLIENT_SPAN}-01` });
    expect(refused.status).toBe(412);
    const crashed = await post('/api/crash', { traceparent: `00-${'b'.repeat(32)}-${CLIENT_SPAN}-01` });
    expect(crashed.status).toBe(500);
    const refuseServer = await eventually(() => only('a'.repeat(32), 'POST /api/refuse', SpanKind.SERVER));
    expect(refuseServer.attributes['error.type']).toBe('FAILED_PRECONDITION');
    expect(refuseServer.attributes['http.response.status_code']).toBe(412);
    expect(refuseServer.status.code).toBe(0); // UNSET: the client's mistake
    const refuseMethod = only('a'.repeat(32), 'payments/refuse', SpanKind.SERVER);
    expect(refuseMethod.attributes['error.type']).toBe('FAILED_PRECONDITION');
    expect(refuseMethod.status.code).toBe(2); // ERROR on the RPC server span: the method failed

    const crashServer = await eventually(() => only('b'.repeat(32), 'POST /api/crash', SpanKind.SERVER));
    expect(crashServer.attributes['error.type']).toBe('INTERNAL');
    expect(crashServer.status.code).toBe(2);
    const crashClient = only('b'.repeat(32), 'payments/crash', SpanKind.CLIENT);
    expect(crashClient.attributes['error.type']).toBe('INTERNAL');
    expect(crashClient.status.code).toBe(2);
  });

  it('the gateway does not trace its own endpoints', async () => {
    expect((await send(gw.url, '/healthz')).status).toBe(200);
    await tracing.flush();
    expect(finished().filter((s) => String(s.attributes['url.path']).startsWith('/healthz'))).toEqual([]);
  });
});
