import { NotFoundError } from '@switchyard/broker';
import { devJwtVerifierOptions, routeKey, signDevToken } from '@switchyard/gateway';
import { createService, type Infrastructure, type Service } from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  eventually,
  postJson,
  type RunningGateway,
  send,
  serversInfra,
  sleep,
  startGateway,
} from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

// The RPC bridge over the real RabbitMQ: a JSON body becomes the payload of an RPC call
// to a service started with the SDK, the reply comes back as JSON; invalid bodies, a
// service nobody serves, a deadline and a failing handler each map to their status once.

const namespace = uniqueNamespace('gw-rpc');
const CHARGE_REQUEST = 'https://schemas.switchyard.dev/payments/payment.charge.request.json';
const CHARGE_RESPONSE = 'https://schemas.switchyard.dev/payments/payment.charge.response.json';
const charge = {
  orderId: 'ord_7Hc2Lq9XkP',
  amount: { amount: 2500, currency: 'EUR' },
  method: { kind: 'card', token: 'tok_4eC39HqLyjWDarjt' },
  idempotencyKey: 'charge-rpc-test-1',
};

let etcd: Etcd3;
let infra: Infrastructure;
let payments: Service;
let gw: RunningGateway;
let token: string;
const calls: Array<{ method: string; caller: string | undefined; headers: Record<string, string> }> = [];

beforeAll(async () => {
  etcd = new Etcd3({ hosts: inject('etcdEndpoint') });
  infra = await serversInfra({ etcd: inject('etcdEndpoint'), amqp: inject('amqpUrl'), namespace });
  payments = createService({
    name: 'payments',
    version: '1.0.0',
    infra,
    methods: {
      charge: {
        request: CHARGE_REQUEST,
        response: CHARGE_RESPONSE,
        handler: (req: typeof charge, ctx) => {
          calls.push({ method: 'charge', caller: ctx.caller, headers: { ...ctx.headers } });
          return {
            paymentId: 'pay_9Kd3Mw7Rtq',
            orderId: req.orderId,
            status: 'succeeded',
            amount: req.amount,
            processedAt: new Date().toISOString(),
          };
        },
      },
      echo: (req: unknown) => ({ got: req }),
      slow: async (_req: unknown, ctx) => {
        await sleep(2_000);
        return { late: true, left: ctx.timeLeftMs() };
      },
      lookup: () => {
        throw new NotFoundError('no such payment', { details: { paymentId: 'pay_x' } });
      },
      crash: () => {
        throw new Error('password=hunter2 at /srv/payments/db.ts:17');
      },
    },
  });
  await payments.start();
  const rpc = (id: string, service: string, method: string, extra: Record<string, unknown> = {}) => ({
    id,
    match: { path: `/api/${id}`, methods: ['POST'] },
    target: { type: 'rpc', service, method },
    auth: { mode: 'optional' },
    ...extra,
  });
  const routes = [
    rpc('charge', 'payments', 'charge', {
      requestSchema: CHARGE_REQUEST,
      auth: { mode: 'required', scopes: ['payments:charge'] },
    }),
    rpc('echo', 'payments', 'echo'),
    rpc('slow', 'payments', 'slow', { timeoutMs: 300 }),
    rpc('lookup', 'payments', 'lookup'),
    rpc('crash', 'payments', 'crash'),
    rpc('ghost', 'ghost', 'anything'),
  ];
  for (const r of routes) await etcd.put(routeKey(namespace, r.id)).value(JSON.stringify(r));
  gw = await startGateway({ infra, auth: { jwt: devJwtVerifierOptions() } });
  await eventually(async () => expect((await send(gw.url, '/api/echo', { method: 'POST' })).status).toBe(200));
  token = await signDevToken({ sub: 'carol', scopes: ['payments:charge'] });
}, 60_000);

afterAll(async () => {
  await gw?.gateway.close();
  await payments?.close();
  await infra?.close();
  await etcd?.delete().prefix(`/${namespace}/`);
  etcd?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  postJson(gw.url, path, body, headers);

describe('RPC routes over RabbitMQ', () => {
  it('JSON in -> the service -> JSON out, with caller, request id and trace', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await post('/api/charge', charge, {
      authorization: `Bearer ${token}`,
      'x-request-id': 'rpc-req-1',
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['x-request-id']).toBe('rpc-req-1');
    expect(r.json()).toMatchObject({ paymentId: 'pay_9Kd3Mw7Rtq', orderId: charge.orderId, status: 'succeeded' });
    const call = calls.at(-1)!;
    expect(call.caller).toBe('carol');
    expect(call.headers['x-request-id']).toBe('rpc-req-1');
    expect(call.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(call.headers.traceparent).not.toContain('00f067aa0ba902b7'); // a span of its own
    expect(call.headers['x-switchyard-subject']).toBe('carol');
  });

  it('an empty body is the empty object', async () => {
    const r = await send(gw.url, '/api/echo', { method: 'POST' });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ got: {} });
  });

  it('an invalid body is 400 listing every violation, and the service is never called', async () => {
    const before = calls.length;
    const r = await post(
      '/api/charge',
      { orderId: 'x', amount: { amount: 1.5, currency: 'euro' }, method: { kind: 'cash' } },
      { authorization: `Bearer ${token}` },
    );
    expect(r.status).toBe(400);
    const body = r.json();
    expect(body.code).toBe('INVALID_ARGUMENT');
    const pointers = body.details.violations.map((v: { pointer: string }) => v.pointer).sort();
    expect(pointers).toEqual(
      expect.arrayContaining(['/orderId', '/amount/amount', '/amount/currency', '/idempotencyKey']),
    );
    for (const v of body.details.violations) expect(typeof v.message).toBe('string');
    const garbled = await post('/api/charge', '{"orderId": ', { authorization: `Bearer ${token}` });
    expect(garbled.status).toBe(400);
    expect(garbled.json().details.reason).toBe('invalid_json');
    expect(calls.length).toBe(before);
  });

  it('a service nobody serves is 503 UNAVAILABLE (retryable), at once', async () => {
    const t0 = performance.now();
    const r = await post('/api/ghost', {});
    expect(r.status).toBe(503);
    expect(r.json()).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('a call past the route deadline is 504 DEADLINE_EXCEEDED, near the deadline', async () => {
    const t0 = performance.now();
    const r = await post('/api/slow', {});
    const took = performance.now() - t0;
    expect(r.status).toBe(504);
    expect(r.json().code).toBe('DEADLINE_EXCEEDED');
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(1_900);
  });

  it("a service's own error keeps its code and status; a crash shows no internals", async () => {
    const nf = await post('/api/lookup', {});
    expect(nf.status).toBe(404);
    expect(nf.json()).toMatchObject({ code: 'NOT_FOUND', message: 'no such payment', details: { paymentId: 'pay_x' } });
    const crash = await post('/api/crash', {});
    expect(crash.status).toBe(500);
    expect(crash.json()).toMatchObject({ code: 'INTERNAL' });
    expect(crash.text).not.toMatch(/hunter2|db\.ts|\bat\s/);
  });

  it('the service stopped: 503, and the metrics count the failures as upstream errors', async () => {
    await payments.close();
    const r = await post('/api/echo', {});
    expect(r.status).toBe(503);
    const metrics = (await send(gw.adminUrl, '/metrics')).text;
    expect(metrics).toMatch(/switchyard_gateway_upstream_errors_total\{route="slow",reason="timeout"\} 1/);
    expect(metrics).toMatch(/switchyard_gateway_upstream_errors_total\{route="echo",reason="no_instance"\} [1-9]/);
    expect(metrics).toMatch(/switchyard_gateway_requests_total\{route="charge",method="POST",status="400"\} 2/);
  });
});
