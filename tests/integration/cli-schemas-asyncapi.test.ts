/**
 * `switchyard schemas asyncapi` against a real etcd: schemas pushed with the CLI,
 * instances registered with their events (an emitter, a subscriber in a group) and RPC
 * methods, and a record in the format of before `events.schemas`; the printed document is
 * valid AsyncAPI 3.0 to @asyncapi/parser, with the channels, operations and messages they
 * declare, the broker as server without credentials, and a warning on stderr for what the
 * old record cannot say. --service narrows it; an unknown service exits 1.
 */
import { Parser } from '@asyncapi/parser';
import { createEtcdClient, EtcdRegistry, instanceKey } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli } from '../fixtures/cli-run.js';
import { SCHEMAS_DIR } from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

const endpoint = inject('etcdEndpoint');
const namespace = uniqueNamespace('cli-asyncapi');
const env = { SWITCHYARD_ETCD: endpoint, SWITCHYARD_NAMESPACE: namespace };
const etcd = createEtcdClient(endpoint);
const registry = new EtcdRegistry({ endpoints: [endpoint], namespace, ttlSeconds: 5 });
const ORDER_CREATED = 'https://schemas.switchyard.dev/orders/order.created.event.json';
const PAY_REQUEST = 'https://schemas.switchyard.dev/payments/payment.charge.request.json';
const PAY_RESPONSE = 'https://schemas.switchyard.dev/payments/payment.charge.response.json';

beforeAll(async () => {
  expect((await cli(['schemas', 'push', SCHEMAS_DIR], { env })).code).toBe(0);
  await registry.register({
    service: 'orders',
    version: '1.0.0',
    events: { emits: ['orders.created'], schemas: { 'orders.created': ORDER_CREATED } },
  });
  await registry.register({
    service: 'billing',
    version: '1.0.0',
    events: {
      subscribes: ['orders.created'],
      subscriptions: [{ topic: 'orders.created', group: 'invoices', schema: ORDER_CREATED }],
    },
  });
  await registry.register({
    service: 'payments',
    version: '1.0.0',
    methods: { charge: { request: PAY_REQUEST, response: PAY_RESPONSE } },
  });
  // Written by a program of before events.schemas/subscriptions: no schema, no group.
  const old = {
    id: 'old-1',
    service: 'legacy',
    version: '0.9.0',
    events: { emits: ['legacy.audit'], subscribes: ['orders.created'] },
    startedAt: '2026-01-01T00:00:00Z',
  };
  await etcd.put(instanceKey(namespace, 'legacy', 'old-1')).value(JSON.stringify(old));
});

afterAll(async () => {
  await registry.close();
  await etcd.delete().prefix(`/${namespace}/`).exec();
  etcd.close();
});

async function document(flags: string[], extraEnv: Record<string, string> = {}) {
  const r = await cli(['schemas', 'asyncapi', ...flags], { env: { ...env, ...extraEnv } });
  expect(r.code, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout);
  const diagnostics = await new Parser().validate(r.stdout);
  expect(diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('/')}: ${d.message}`)).toEqual([]);
  return { doc, stderr: r.stderr };
}

describe('switchyard schemas asyncapi', () => {
  it('prints valid AsyncAPI 3.0 of the registered emitters, subscribers and RPC methods', async () => {
    const { doc, stderr } = await document([], { SWITCHYARD_AMQP: 'amqp://guest:hunter2@rabbit.test:5672/' });
    expect(doc.servers.broker).toMatchObject({ host: 'rabbit.test:5672', protocol: 'amqp' });
    expect(JSON.stringify(doc)).not.toContain('hunter2');

    expect(doc.channels['event.orders.created']).toMatchObject({
      address: 'orders.created',
      bindings: { amqp: { exchange: { name: `${namespace}.events`, type: 'topic' } } },
    });
    expect(doc.components.messages['event.orders.created'].payload).toEqual({
      $ref: '#/components/schemas/orders.order.created.event',
    });
    expect(doc.operations['orders.emit.orders.created']).toMatchObject({ action: 'send' });
    expect(doc.operations['billing.receive.invoices.orders.created']).toMatchObject({
      action: 'receive',
      channel: { $ref: '#/channels/event.orders.created' },
      'x-switchyard-group': 'invoices',
      'x-switchyard-queue': `${namespace}.events.invoices.orders.created`,
    });
    expect(doc.operations['payments.rpc.charge']).toMatchObject({
      action: 'receive',
      channel: { $ref: '#/channels/rpc.payments' },
      reply: { address: { location: '$message.header#/reply_to' } },
    });
    expect(doc.components.messages['rpc.payments.charge.reply'].payload).toEqual({
      $ref: '#/components/schemas/payments.payment.charge.response',
    });

    // The old record is described as far as it goes, and what it lacks is said.
    expect(doc.channels['event.legacy.audit'].address).toBe('legacy.audit');
    expect(doc.components.messages['event.legacy.audit'].payload).toBeUndefined();
    expect(doc.operations['legacy.receive.unknown-group.orders.created'].action).toBe('receive');
    expect(stderr).toContain('warning: legacy.audit: no schema declared for its events');
    expect(stderr).toContain('warning: legacy: the group of its subscription to orders.created is not in its record');
  });

  it('--service keeps only those services; --schemas reads a directory; --title', async () => {
    const { doc, stderr } = await document([
      '--service',
      'payments',
      '--service',
      'orders,billing',
      '--schemas',
      SCHEMAS_DIR,
      '--title',
      'Shop',
    ]);
    expect(doc.info.title).toBe('Shop');
    expect(doc.servers).toBeUndefined();
    expect(Object.keys(doc.operations)).toEqual([
      'billing.receive.invoices.orders.created',
      'orders.emit.orders.created',
      'payments.rpc.charge',
    ]);
    expect(stderr).toBe('');
  });

  it('a service with no live instance exits 1 with SERVICE_NOT_FOUND', async () => {
    const r = await cli(['schemas', 'asyncapi', '--service', 'nobody'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SERVICE_NOT_FOUND');
    expect(r.stdout).toBe('');
  });
});
