/**
 * buildAsyncApi from registry records and the repo's schemas: a document that
 * @asyncapi/parser (the maintained validator) accepts with no error, with a channel per
 * topic on the events exchange, send operations for emitters, receive operations with the
 * group queue for subscribers (wildcard patterns get a channel of the topics they match),
 * RPC methods as receive + reply with request, reply and error messages, the broker as a
 * server without its credentials, and records older than events.schemas/subscriptions
 * still described (schema ids from their metadata, or an open payload and a warning).
 */
import { Parser } from '@asyncapi/parser';
import { buildAsyncApi, loadSchemaDirectory, parseServiceInstance, type ServiceInstance } from '@switchyard/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { SCHEMAS_DIR } from '../fixtures/gateway-harness.js';

const ORDER_CREATED = 'https://schemas.switchyard.dev/orders/order.created.event.json';
const ORDER_REQUEST = 'https://schemas.switchyard.dev/orders/order.create.request.json';
const ORDER_RESPONSE = 'https://schemas.switchyard.dev/orders/order.create.response.json';
const NOTIFY_REQUEST = 'https://schemas.switchyard.dev/notifications/notification.send.request.json';

const record = (r: Partial<ServiceInstance> & { service: string; id: string }): ServiceInstance =>
  parseServiceInstance({ version: '1.0.0', startedAt: '2026-01-01T00:00:00Z', ...r });

const INSTANCES = [
  record({
    service: 'orders',
    id: 'orders-1',
    methods: { create: { request: ORDER_REQUEST, response: ORDER_RESPONSE, idempotent: false } },
    events: {
      emits: ['orders.created', 'orders.cancelled'],
      subscribes: [],
      schemas: { 'orders.created': ORDER_CREATED },
      subscriptions: [],
    },
  }),
  record({
    service: 'billing',
    id: 'billing-1',
    events: {
      emits: [],
      subscribes: ['orders.created', 'orders.*'],
      subscriptions: [
        { topic: 'orders.created', group: 'invoices', schema: ORDER_CREATED },
        { topic: 'orders.*', group: 'audit' },
      ],
    },
  }),
  record({
    service: 'notifications',
    id: 'n-1',
    methods: {
      send: { request: NOTIFY_REQUEST },
      feed: { streaming: true },
      live: { kind: 'bidi' },
      tally: { kind: 'client' },
    },
  }),
];

let schemas: Map<string, Record<string, unknown>>;
beforeAll(async () => {
  const snapshot = await loadSchemaDirectory(SCHEMAS_DIR);
  schemas = new Map(snapshot.documents.map((d) => [d.id, d.schema as Record<string, unknown>]));
});

function build(instances: readonly ServiceInstance[], amqpUrl?: string) {
  return buildAsyncApi({
    instances,
    schema: (id) => schemas.get(id),
    namespace: 'prod',
    amqpUrl,
    title: 'Switchyard',
    version: 'test',
  });
}

/** The parser's errors (severity 0), as readable lines. */
async function errorsOf(doc: unknown): Promise<string[]> {
  const diagnostics = await new Parser().validate(JSON.stringify(doc));
  return diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('/')}: ${d.message}`);
}

describe('buildAsyncApi', () => {
  it('is valid AsyncAPI 3.0 to @asyncapi/parser, which does reject a broken document', async () => {
    const { document } = build(INSTANCES, 'amqp://guest:secret@rabbit.internal:5672/switchyard');
    expect(document.asyncapi).toBe('3.0.0');
    expect(await errorsOf(document)).toEqual([]);

    const broken = structuredClone(document);
    (broken.operations['orders.emit.orders.created'] as Record<string, unknown>).action = 'publish';
    (broken.channels['event.orders.created'] as Record<string, unknown>).messages = {
      'event.orders.created': { $ref: '#/components/messages/nope' },
    };
    expect((await errorsOf(broken)).length).toBeGreaterThan(0);
  });

  it('describes events: a channel per topic, send for emitters, receive with the group queue for subscribers', () => {
    const { document, warnings } = build(INSTANCES);
    expect(Object.keys(document.channels)).toEqual([
      'event.orders.cancelled',
      'event.orders.created',
      'pattern.orders.star',
      'rpc.notifications',
      'rpc.notifications.reply',
      'rpc.orders',
      'rpc.orders.reply',
    ]);
    expect(document.channels['event.orders.created']).toMatchObject({
      address: 'orders.created',
      messages: { 'event.orders.created': { $ref: '#/components/messages/event.orders.created' } },
      bindings: { amqp: { is: 'routingKey', exchange: { name: 'prod.events', type: 'topic', durable: true } } },
    });
    // The wildcard subscription's channel carries every topic it matches.
    expect(Object.keys(document.channels['pattern.orders.star']!.messages as object)).toEqual([
      'event.orders.cancelled',
      'event.orders.created',
    ]);
    const components = document.components as Record<string, Record<string, Record<string, unknown>>>;
    expect(components.messages!['event.orders.created']).toMatchObject({
      name: 'orders.created',
      payload: { $ref: '#/components/schemas/orders.order.created.event' },
      headers: { $ref: '#/components/schemas/switchyard.EventHeaders' },
    });
    // Its $refs (line items, identifiers, money) came along, as local pointers.
    expect(components.schemas!['orders.line-item']).toBeDefined();
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"([^"]*)"/g)].map((m) => m[1]!);
    expect(refs.filter((r) => !r.startsWith('#/'))).toEqual([]);
    expect(refs).toContain('#/components/schemas/orders.line-item');

    expect(document.operations['orders.emit.orders.created']).toMatchObject({
      action: 'send',
      channel: { $ref: '#/channels/event.orders.created' },
      messages: [{ $ref: '#/channels/event.orders.created/messages/event.orders.created' }],
      'x-switchyard-service': 'orders',
    });
    expect(document.operations['billing.receive.invoices.orders.created']).toMatchObject({
      action: 'receive',
      channel: { $ref: '#/channels/event.orders.created' },
      'x-switchyard-group': 'invoices',
      'x-switchyard-queue': 'prod.events.invoices.orders.created',
      'x-switchyard-dead-letter-queue': 'prod.events.invoices.orders.created.dlq',
    });
    expect(document.operations['billing.receive.audit.orders.star']).toMatchObject({
      channel: { $ref: '#/channels/pattern.orders.star' },
      'x-switchyard-queue': 'prod.events.audit.orders.*',
    });
    expect(warnings).toEqual(['orders.cancelled: no schema declared for its events']);
    expect(components.messages!['event.orders.cancelled']!.payload).toBeUndefined();
  });

  it('describes RPC methods: receive on the service channel, reply to reply_to with the reply or an error', () => {
    const { document } = build(INSTANCES);
    expect(document.channels['rpc.orders']).toMatchObject({
      address: 'orders',
      bindings: { amqp: { is: 'routingKey', exchange: { name: 'prod.rpc', type: 'direct' } } },
      'x-switchyard-queue': 'prod.rpc.orders',
    });
    expect(document.channels['rpc.orders.reply']).toMatchObject({ address: null });
    expect(document.operations['orders.rpc.create']).toMatchObject({
      action: 'receive',
      channel: { $ref: '#/channels/rpc.orders' },
      messages: [{ $ref: '#/channels/rpc.orders/messages/rpc.orders.create.request' }],
      reply: {
        address: { location: '$message.header#/reply_to' },
        channel: { $ref: '#/channels/rpc.orders.reply' },
        messages: [
          { $ref: '#/channels/rpc.orders.reply/messages/rpc.orders.create.reply' },
          { $ref: '#/channels/rpc.orders.reply/messages/rpc.error' },
        ],
      },
      'x-switchyard-idempotent': false,
    });
    const messages = (document.components as Record<string, Record<string, Record<string, unknown>>>).messages!;
    expect(messages['rpc.orders.create.request']).toMatchObject({
      payload: { $ref: '#/components/schemas/orders.order.create.request' },
      headers: {
        allOf: [
          { $ref: '#/components/schemas/switchyard.RpcRequestHeaders' },
          { properties: { 'x-method': { const: 'create' } } },
        ],
      },
    });
    expect(messages['rpc.error']).toMatchObject({ payload: { $ref: '#/components/schemas/switchyard.Error' } });
    // A streaming method's replies are items, then end (or an error).
    expect(document.operations['notifications.rpc.feed']!.reply).toMatchObject({
      messages: [
        { $ref: '#/channels/rpc.notifications.reply/messages/rpc.notifications.feed.reply' },
        { $ref: '#/channels/rpc.notifications.reply/messages/rpc.error' },
        { $ref: '#/channels/rpc.notifications.reply/messages/rpc.stream.end' },
      ],
    });
    // Bidi and client-streaming methods say their kind; a bidi method's replies are items too.
    const live = document.operations['notifications.rpc.live']!;
    expect(live).toMatchObject({ 'x-switchyard-kind': 'bidi', summary: expect.stringContaining('§9') });
    expect(live.reply).toMatchObject({
      messages: expect.arrayContaining([{ $ref: '#/channels/rpc.notifications.reply/messages/rpc.stream.end' }]),
    });
    expect(messages['rpc.notifications.live.reply']).toMatchObject({ title: 'notifications.live stream item' });
    const tally = document.operations['notifications.rpc.tally']!;
    expect(tally).toMatchObject({ 'x-switchyard-kind': 'client' });
    expect(messages['rpc.notifications.tally.reply']).toMatchObject({ title: 'notifications.tally reply' });
  });

  it('names the broker without its credentials, and leaves servers out when it is not known', () => {
    const { document } = build(INSTANCES, 'amqps://guest:secret@rabbit.internal/prod%2Fa');
    expect(document.servers).toEqual({
      broker: expect.objectContaining({ host: 'rabbit.internal:5671', protocol: 'amqps' }),
    });
    expect(JSON.stringify(document)).not.toContain('secret');
    expect(JSON.stringify(document.servers)).toContain('prod/a');
    expect(build(INSTANCES).document.servers).toBeUndefined();
  });

  it('is the same document whatever order the records come in', () => {
    const a = JSON.stringify(build(INSTANCES).document);
    expect(JSON.stringify(build([...INSTANCES].reverse()).document)).toBe(a);
  });

  it('describes records older than events.schemas/subscriptions, and reports what it cannot know', async () => {
    const old = [
      // An SDK record of before the fields: the schema ids were metadata.
      record({
        service: 'orders',
        id: 'o-old',
        events: { emits: ['orders.created'], subscribes: [] },
        metadata: { 'emits.orders.created': ORDER_CREATED },
      }),
      // Another writer's: no schema at all, nor a group.
      record({ service: 'legacy', id: 'l-1', events: { emits: ['legacy.thing'], subscribes: ['orders.created'] } }),
      record({ service: 'ghost', id: 'g-1', methods: { get: { request: 'https://schemas.example/missing.json' } } }),
    ];
    const { document, warnings } = build(old);
    expect(await errorsOf(document)).toEqual([]);
    const messages = (document.components as Record<string, Record<string, Record<string, unknown>>>).messages!;
    expect(messages['event.orders.created']!.payload).toEqual({
      $ref: '#/components/schemas/orders.order.created.event',
    });
    expect(messages['event.legacy.thing']!.payload).toBeUndefined();
    const receive = document.operations['legacy.receive.unknown-group.orders.created']!;
    expect(receive.action).toBe('receive');
    expect(receive['x-switchyard-queue']).toBeUndefined();
    expect(document['x-switchyard-missing-schemas']).toEqual(['https://schemas.example/missing.json']);
    expect(warnings).toEqual([
      'legacy.thing: no schema declared for its events',
      'legacy: the group of its subscription to orders.created is not in its record (an older writer)',
      'schema https://schemas.example/missing.json is not known: left out of the document',
    ]);
  });
});
