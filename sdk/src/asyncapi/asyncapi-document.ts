/**
 * In the SDK rather than the CLI: it needs only registry records, schemas and the wire
 * names, which all live here or below (broker), and the gateway depends on the SDK too,
 * so it can serve the same document later without importing the CLI.
 */
import { Topology, topicMatches } from '@switchyard/broker';
import type { ServiceInstance } from '../registry/instance-record.js';
import { bundleSchemas } from '../schemas/schema-bundle.js';
import type { JsonSchemaObject } from '../schemas/types.js';
import { byText, isWildcard, type ServiceView, servicesOf } from './system-view.js';
import { pinned, WIRE_SCHEMA, WIRE_SCHEMAS } from './wire-schemas.js';

export interface AsyncApiSources {
  /** The registered instances (any order). */
  readonly instances: readonly ServiceInstance[];
  /** The schema document of a `$id`. */
  schema(id: string): JsonSchemaObject | undefined;
  /** The namespace the exchange and queue names are built from (docs/protocol.md §1). */
  readonly namespace: string;
  /** The broker, `amqp(s)://…`; its credentials never reach the document. Absent: no `servers`. */
  readonly amqpUrl?: string | undefined;
  readonly title: string;
  readonly version: string;
  readonly description?: string | undefined;
}

export type AsyncApiDocument = Record<string, unknown> & {
  asyncapi: string;
  channels: Record<string, Record<string, unknown>>;
  operations: Record<string, Record<string, unknown>>;
};

export interface AsyncApiResult {
  readonly document: AsyncApiDocument;
  /** What could not be described fully: topics without a schema, schemas not found, ... (sorted). */
  readonly warnings: readonly string[];
}

const BINDING_VERSION = '0.3.0';
const ERROR_MESSAGE = 'rpc.error';
const STREAM_END_MESSAGE = 'rpc.stream.end';

/**
 * The AsyncAPI 3.0 description of what the registered services do on the broker: a
 * channel per event topic (the routing key on the events exchange) and one per wildcard
 * subscription pattern, a message per topic with its schema, a `send` operation per
 * emitting service, a `receive` operation per subscription (its group and queue), and per
 * service an RPC channel with a `receive` + `reply` operation per method. Operations are
 * written from the point of view of the service that owns them, as AsyncAPI describes an
 * application: a server receives requests and replies, it does not send them. Schemas
 * are bundled into `components.schemas` with local `$ref`s; every key is sorted.
 */
export function buildAsyncApi(src: AsyncApiSources): AsyncApiResult {
  const topology = new Topology(src.namespace);
  const services = servicesOf(src.instances);
  const warnings = new Set<string>();
  const { topics, patterns } = eventSchemas(services, warnings);
  const wanted = new Set<string>();
  for (const id of topics.values()) if (id !== undefined) wanted.add(id);
  for (const s of services) {
    for (const m of s.methods.values()) for (const id of [m.request, m.response]) if (id !== undefined) wanted.add(id);
  }
  const bundle = bundleSchemas([...wanted].sort(byText), src.schema, { reserved: Object.keys(WIRE_SCHEMAS) });
  const payload = (id: string | undefined): Record<string, unknown> => {
    const name = id === undefined ? undefined : bundle.nameOf(id);
    return name === undefined ? {} : { payload: { $ref: `#/components/schemas/${name}` } };
  };

  const channels: Record<string, Record<string, unknown>> = {};
  const messages: Record<string, Record<string, unknown>> = {};
  const operations: Record<string, Record<string, unknown>> = {};
  const channelOf = new Map<string, string>();
  const eventsExchange = { name: topology.eventsExchange, type: 'topic', durable: true, autoDelete: false };
  const messageRefs = (keys: readonly string[]) =>
    Object.fromEntries(keys.map((k) => [k, { $ref: `#/components/messages/${k}` }]));

  for (const [topic, id] of topics) {
    const key = `event.${topic}`;
    messages[key] = {
      name: topic,
      title: topic,
      contentType: 'application/json',
      headers: { $ref: `#/components/schemas/${WIRE_SCHEMA.eventHeaders}` },
      ...payload(id),
      ...(id === undefined ? {} : { 'x-switchyard-schema': id }),
    };
    const channel = unique(channels, key);
    channelOf.set(topic, channel);
    channels[channel] = {
      address: topic,
      title: topic,
      messages: messageRefs([key]),
      bindings: { amqp: { is: 'routingKey', exchange: eventsExchange, bindingVersion: BINDING_VERSION } },
    };
  }
  for (const pattern of patterns) {
    const matching = [...topics.keys()].filter((t) => topicMatches(pattern, t));
    const channel = unique(channels, `pattern.${pattern.replaceAll('*', 'star').replaceAll('#', 'hash')}`);
    channelOf.set(pattern, channel);
    channels[channel] = {
      address: pattern,
      title: pattern,
      description: `The events of every topic that matches the binding pattern \`${pattern}\` (\`*\` one word, \`#\` any).`,
      messages: messageRefs(matching.map((t) => `event.${t}`)),
      bindings: { amqp: { is: 'routingKey', exchange: eventsExchange, bindingVersion: BINDING_VERSION } },
    };
  }
  const channelMessages = (channel: string) =>
    Object.keys(channels[channel]!.messages as object).map((k) => ({ $ref: `#/channels/${channel}/messages/${k}` }));

  for (const s of services) {
    for (const topic of s.emits.keys()) {
      const channel = channelOf.get(topic)!;
      operations[unique(operations, `${s.name}.emit.${topic}`)] = {
        action: 'send',
        channel: { $ref: `#/channels/${channel}` },
        summary: `${s.name} emits ${topic}.`,
        messages: channelMessages(channel),
        bindings: { amqp: { deliveryMode: 2, mandatory: true, bindingVersion: BINDING_VERSION } },
        'x-switchyard-service': s.name,
      };
    }
    for (const sub of s.subscriptions) {
      const channel = channelOf.get(sub.pattern)!;
      const queue = sub.group === undefined ? undefined : topology.eventQueue(sub.group, sub.pattern);
      if (sub.group === undefined) {
        warnings.add(
          `${s.name}: the group of its subscription to ${sub.pattern} is not in its record (an older writer)`,
        );
      }
      const id = `${s.name}.receive.${sub.group ?? 'unknown-group'}.${sub.pattern.replaceAll('*', 'star').replaceAll('#', 'hash')}`;
      operations[unique(operations, id)] = {
        action: 'receive',
        channel: { $ref: `#/channels/${channel}` },
        summary:
          sub.group === undefined
            ? `${s.name} consumes ${sub.pattern}.`
            : `${s.name} consumes ${sub.pattern} in group ${sub.group}: the instances of a group share its queue, each group gets every event.`,
        description: `Failed events are retried, then dead-lettered to the queue's \`.dlq\` with the headers of \`${WIRE_SCHEMA.deadLetterHeaders}\`.`,
        messages: channelMessages(channel),
        bindings: { amqp: { ack: true, bindingVersion: BINDING_VERSION } },
        'x-switchyard-service': s.name,
        ...(queue === undefined
          ? {}
          : {
              'x-switchyard-group': sub.group,
              'x-switchyard-queue': queue.queue,
              'x-switchyard-dead-letter-queue': queue.deadLetterQueue,
            }),
        ...(sub.schema === undefined ? {} : { 'x-switchyard-schema': sub.schema }),
      };
    }
    if (s.methods.size > 0) rpcOf(s, topology, { channels, messages, operations }, payload);
  }

  for (const id of bundle.missing) warnings.add(`schema ${id} is not known: left out of the document`);
  const servers = server(src.amqpUrl);
  const document: AsyncApiDocument = {
    asyncapi: '3.0.0',
    info: { title: src.title, version: src.version, ...(src.description ? { description: src.description } : {}) },
    ...(servers === undefined ? {} : { servers: { broker: servers } }),
    defaultContentType: 'application/json',
    channels: sortKeys(channels),
    operations: sortKeys(operations),
    components: {
      schemas: sortKeys({ ...WIRE_SCHEMAS, ...bundle.components }),
      messages: sortKeys(messages),
    },
  };
  if (bundle.missing.length > 0) document['x-switchyard-missing-schemas'] = bundle.missing;
  return { document, warnings: [...warnings].sort(byText) };
}

/**
 * The schema id of every topic (emitted, or subscribed to without wildcards), emitters
 * first, and the wildcard patterns. Topics are sorted.
 */
function eventSchemas(services: readonly ServiceView[], warnings: Set<string>) {
  const topics = new Map<string, string | undefined>();
  const from = new Map<string, string>();
  for (const s of services) {
    for (const [topic, id] of s.emits) {
      const had = topics.get(topic);
      if (had !== undefined && id !== undefined && id !== had) {
        warnings.add(`${topic}: ${s.name} declares schema ${id}, ${from.get(topic)} declares ${had} (used)`);
      }
      if (had === undefined) {
        topics.set(topic, id);
        if (id !== undefined) from.set(topic, s.name);
      }
    }
  }
  const patterns = new Set<string>();
  for (const s of services) {
    for (const sub of s.subscriptions) {
      if (isWildcard(sub.pattern)) patterns.add(sub.pattern);
      else if (topics.get(sub.pattern) === undefined) topics.set(sub.pattern, sub.schema);
    }
  }
  for (const [topic, id] of topics) if (id === undefined) warnings.add(`${topic}: no schema declared for its events`);
  return {
    topics: new Map([...topics].sort(([a], [b]) => byText(a, b))),
    patterns: [...patterns].sort(byText),
  };
}

interface Sections {
  channels: Record<string, Record<string, unknown>>;
  messages: Record<string, Record<string, unknown>>;
  operations: Record<string, Record<string, unknown>>;
}

/** The RPC channel of a service (its routing key on the rpc exchange), its reply channel and an operation per method. */
function rpcOf(
  s: ServiceView,
  topology: Topology,
  out: Sections,
  payload: (id: string | undefined) => Record<string, unknown>,
): void {
  const header = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  out.messages[ERROR_MESSAGE] ??= {
    name: 'error',
    title: 'Error reply',
    summary: 'What a failed call gets back, whatever the method (docs/protocol.md §6).',
    contentType: 'application/json',
    headers: pinned(WIRE_SCHEMA.rpcReplyHeaders, 'x-status', 'error'),
    payload: header(WIRE_SCHEMA.error),
  };
  const requests: string[] = [];
  const replies: string[] = [ERROR_MESSAGE];
  const channel = unique(out.channels, `rpc.${s.name}`);
  const replyChannel = unique(out.channels, `rpc.${s.name}.reply`);
  for (const [method, info] of s.methods) {
    const base = `rpc.${s.name}.${method}`;
    // Bidi methods (docs/protocol.md §9): the request only opens the stream; `request` and
    // `response` are the schemas of the items each way, which travel between the two reply addresses.
    const itemsBack = info.streaming === true || info.kind === 'bidi';
    const how =
      info.kind === 'bidi'
        ? ' (bidi: the request opens the stream, then items both ways between the reply addresses, docs/protocol.md §9)'
        : info.kind === 'client'
          ? ' (client-streaming: the request opens the stream, the caller sends items, one reply comes back, docs/protocol.md §9)'
          : info.streaming
            ? ' (server-streaming: items, then end or error)'
            : '';
    out.messages[`${base}.request`] = {
      name: `${s.name}.${method}`,
      title: `${s.name}.${method} ${info.kind === undefined ? 'request' : 'item from the caller'}`,
      headers: pinned(WIRE_SCHEMA.rpcRequestHeaders, 'x-method', method),
      ...payload(info.request),
      ...(info.request === undefined ? {} : { 'x-switchyard-schema': info.request }),
    };
    out.messages[`${base}.reply`] = {
      name: `${s.name}.${method}.reply`,
      title: `${s.name}.${method} ${itemsBack ? 'stream item' : 'reply'}`,
      headers: pinned(WIRE_SCHEMA.rpcReplyHeaders, 'x-status', itemsBack ? 'item' : 'ok'),
      ...payload(info.response),
      ...(info.response === undefined ? {} : { 'x-switchyard-schema': info.response }),
    };
    requests.push(`${base}.request`);
    replies.push(`${base}.reply`);
    if (itemsBack && !replies.includes(STREAM_END_MESSAGE)) {
      out.messages[STREAM_END_MESSAGE] ??= {
        name: 'end',
        title: 'End of a stream',
        summary: 'The last message of a streaming reply; the body is empty.',
        headers: pinned(WIRE_SCHEMA.rpcReplyHeaders, 'x-status', 'end'),
      };
      replies.push(STREAM_END_MESSAGE);
    }
    const replyMessages = [`${base}.reply`, ERROR_MESSAGE, ...(itemsBack ? [STREAM_END_MESSAGE] : [])];
    out.operations[unique(out.operations, `${s.name}.rpc.${method}`)] = {
      action: 'receive',
      channel: { $ref: `#/channels/${channel}` },
      summary: `${s.name} serves ${method}${how}.`,
      messages: [{ $ref: `#/channels/${channel}/messages/${base}.request` }],
      reply: {
        address: {
          location: '$message.header#/reply_to',
          description: "The default exchange, with the request's `reply_to` as routing key; `correlation_id` copied.",
        },
        channel: { $ref: `#/channels/${replyChannel}` },
        messages: replyMessages.map((k) => ({ $ref: `#/channels/${replyChannel}/messages/${k}` })),
      },
      bindings: { amqp: { ack: true, bindingVersion: BINDING_VERSION } },
      'x-switchyard-service': s.name,
      'x-switchyard-method': method,
      ...(info.idempotent === undefined ? {} : { 'x-switchyard-idempotent': info.idempotent }),
      ...(info.kind === undefined ? {} : { 'x-switchyard-kind': info.kind }),
    };
  }
  const refs = (keys: readonly string[]) =>
    Object.fromEntries([...keys].sort(byText).map((k) => [k, { $ref: `#/components/messages/${k}` }]));
  out.channels[channel] = {
    address: s.name,
    title: `${s.name} RPC`,
    description: `Requests to ${s.name}: published to \`${topology.rpcExchange}\` with routing key \`${s.name}\`; every instance consumes the queue \`${topology.rpcQueue(s.name)}\`.`,
    messages: refs(requests),
    bindings: {
      amqp: {
        is: 'routingKey',
        exchange: { name: topology.rpcExchange, type: 'direct', durable: true, autoDelete: false },
        bindingVersion: BINDING_VERSION,
      },
    },
    'x-switchyard-queue': topology.rpcQueue(s.name),
  };
  out.channels[replyChannel] = {
    // Each caller's direct reply-to address, known only at run time.
    address: null,
    title: `${s.name} RPC replies`,
    messages: refs(replies),
  };
}

/** `amqp://user:secret@host:5672/vhost` → host, protocol and vhost, without the credentials. */
function server(url: string | undefined): Record<string, unknown> | undefined {
  if (url === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const protocol = u.protocol.replace(/:$/, '');
  if ((protocol !== 'amqp' && protocol !== 'amqps') || u.hostname === '') return undefined;
  const port = u.port || (protocol === 'amqps' ? '5671' : '5672');
  const vhost = u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : '/';
  return {
    host: `${u.hostname}:${port}`,
    protocol,
    protocolVersion: '0.9.1',
    description: `RabbitMQ, virtual host \`${vhost}\`.`,
  };
}

function unique(map: Record<string, unknown>, key: string): string {
  let candidate = key;
  for (let i = 2; candidate in map; i++) candidate = `${key}_${i}`;
  return candidate;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => byText(a, b)));
}
