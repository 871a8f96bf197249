/**
 * Every way an RPC can fail on RabbitMQ, and the code the caller gets for it.
 */
import { AmqpTransport, PermissionDeniedError, validationError } from '@switchyard/broker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deleteNamespaces, rawCall } from '../fixtures/amqp-broker.js';
import { rejection } from '../harness/rejection.js';
import { uniqueNamespace } from '../harness/servers.js';

const url = inject('amqpUrl');
const namespace = uniqueNamespace('amqp-rpc-errors');
let server: AmqpTransport;
let client: AmqpTransport;
let handlerRuns = 0;
let slowAbortedAt = 0;

beforeAll(async () => {
  server = new AmqpTransport({ url, namespace });
  client = new AmqpTransport({ url, namespace });
  await Promise.all([server.start(), client.start()]);
  await server.serve('orders', {
    slow: {
      handler: (req) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => resolve('too late'), 5000);
          req.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            slowAbortedAt = Date.now();
            resolve('aborted');
          });
        }),
    },
    create: {
      validateRequest: (p) => {
        if (typeof (p as { qty?: unknown })?.qty !== 'number')
          throw validationError('request', [{ pointer: '/qty', message: 'must be a number' }]);
      },
      handler: (req) => {
        handlerRuns++;
        return { created: req.payload };
      },
    },
    forbidden: {
      handler: () => {
        throw new PermissionDeniedError('alice may not cancel order 7', { details: { order: 7 } });
      },
    },
    crash: {
      handler: () => {
        throw new TypeError("Cannot read properties of undefined (reading 'secretToken')");
      },
    },
  });
});

afterAll(async () => {
  await Promise.all([server?.close(), client?.close()]);
  await deleteNamespaces(url, [namespace]);
}, 60_000);

describe('rpc failures', () => {
  it('deadline exceeded: DEADLINE_EXCEEDED after the timeout, and the handler is aborted', async () => {
    const t0 = Date.now();
    const err = await rejection(client.call('orders', 'slow', {}, { timeoutMs: 300 }));
    const spent = Date.now() - t0;
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(spent).toBeGreaterThanOrEqual(280);
    expect(spent).toBeLessThan(3000);
    for (let i = 0; i < 100 && slowAbortedAt === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(slowAbortedAt - t0).toBeGreaterThanOrEqual(250);
  });

  it('no consumer: UNAVAILABLE well before the timeout', async () => {
    const t0 = Date.now();
    const err = await rejection(client.call('nobody-serves-this', 'anything', {}, { timeoutMs: 10_000 }));
    const spent = Date.now() - t0;
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.retryable).toBe(true);
    expect(spent).toBeLessThan(1000);
    console.log(`[amqp] call to a service with no server failed UNAVAILABLE after ${spent} ms (timeout 10000 ms)`);
  });

  it('a body that is not the JSON it claims: INVALID_ARGUMENT, as a structured error reply', async () => {
    const before = handlerRuns;
    const reply = await rawCall(url, namespace, 'orders', 'create', Buffer.from('{"qty": 1'));
    if (reply === 'returned') throw new Error('request was returned');
    expect(reply.status).toBe('error');
    expect(reply.contentType).toBe('application/json');
    const body = JSON.parse(reply.body.toString());
    expect(body.code).toBe('INVALID_ARGUMENT');
    expect(body.retryable).toBe(false);
    expect(typeof body.message).toBe('string');
    expect(handlerRuns).toBe(before);
  });

  it('validateRequest throws: INVALID_ARGUMENT with the violations; the handler never runs', async () => {
    const before = handlerRuns;
    const err = await rejection(client.call('orders', 'create', { qty: 'three' }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.details).toEqual({ violations: [{ pointer: '/qty', message: 'must be a number' }] });
    expect(handlerRuns).toBe(before);
    expect(await client.call('orders', 'create', { qty: 3 })).toEqual({ created: { qty: 3 } });
    expect(handlerRuns).toBe(before + 1);
  });

  it('handler throws a SwitchyardError: its code, message and details reach the caller', async () => {
    const err = await rejection(client.call('orders', 'forbidden', {}));
    expect(err.code).toBe('PERMISSION_DENIED');
    expect(err.message).toBe('alice may not cancel order 7');
    expect(err.details).toEqual({ order: 7 });
  });

  it('handler throws a plain Error: INTERNAL, without its message', async () => {
    const err = await rejection(client.call('orders', 'crash', {}));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).not.toContain('secretToken');
    expect(JSON.stringify(err.toJSON())).not.toContain('secretToken');
  });

  it('unknown method: UNIMPLEMENTED', async () => {
    const err = await rejection(client.call('orders', 'refund', {}));
    expect(err.code).toBe('UNIMPLEMENTED');
    const raw = await rawCall(url, namespace, 'orders', 'refund', Buffer.from('{}'));
    if (raw === 'returned') throw new Error('request was returned');
    expect(JSON.parse(raw.body.toString()).code).toBe('UNIMPLEMENTED');
  });
});
