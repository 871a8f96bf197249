import type { JsonSchemaObject } from '../schemas/types.js';

/**
 * The headers and bodies of docs/protocol.md as JSON Schemas, for the AsyncAPI document.
 * AsyncAPI has one `headers` object per message while AMQP splits basic properties
 * (`reply_to`, `correlation_id`, ...) from the header table: the properties are listed
 * too, under their AMQP names, because the reply address and correlation id live there
 * and AsyncAPI's runtime expressions can only point into `headers` or `payload`.
 */
export const WIRE_SCHEMA = {
  eventHeaders: 'switchyard.EventHeaders',
  rpcRequestHeaders: 'switchyard.RpcRequestHeaders',
  rpcReplyHeaders: 'switchyard.RpcReplyHeaders',
  deadLetterHeaders: 'switchyard.DeadLetterHeaders',
  error: 'switchyard.Error',
} as const;

const text = (description: string): JsonSchemaObject => ({ type: 'string', description });
const digits = (description: string): JsonSchemaObject => ({ type: 'string', pattern: '^[0-9]+$', description });

/** What every message may carry (protocol §2 and §7). */
const COMMON: Record<string, JsonSchemaObject> = {
  message_id: text('AMQP property: unique id (UUID recommended); the event id for events.'),
  traceparent: text('W3C trace context, passed on by every hop.'),
  'x-source': text('The sending service (with auth on, receivers overwrite it with the verified account).'),
  'x-switchyard-token': text("With auth on: the sender's access token (JWT), required."),
  'x-switchyard-user-token': text("With auth on: the end user's access token the message is for."),
};

export const WIRE_SCHEMAS: Readonly<Record<string, JsonSchemaObject>> = {
  [WIRE_SCHEMA.eventHeaders]: {
    type: 'object',
    description:
      'The envelope of an event (docs/protocol.md §3): AMQP properties and headers; the body is the payload.',
    properties: {
      ...COMMON,
      timestamp: { type: 'integer', description: 'AMQP property: seconds since the epoch.' },
      'x-attempt': digits('Delivery attempt (integer as a string); absent = 1.'),
      'x-original-topic': text('The topic, on retried copies (they arrive with the queue name as routing key).'),
    },
  },
  [WIRE_SCHEMA.rpcRequestHeaders]: {
    type: 'object',
    description: 'An RPC request (docs/protocol.md §4): published to the rpc exchange with the service as routing key.',
    required: ['x-method', 'reply_to', 'correlation_id'],
    properties: {
      ...COMMON,
      'x-method': text('The method to run.'),
      reply_to: text('AMQP property: where the reply goes (direct reply-to, `amq.rabbitmq.reply-to`).'),
      correlation_id: text('AMQP property: the call id, copied onto the reply.'),
      'x-deadline': digits('Absolute deadline, milliseconds since the Unix epoch; absent = none.'),
      expiration: digits('AMQP property: milliseconds left until the deadline.'),
      'x-stream-window': digits('Streaming calls only: items the server may send ahead of credit (n >= 1).'),
      'x-caller': text('Identity of the end user the call is for (set by the receiver with auth on).'),
    },
  },
  [WIRE_SCHEMA.rpcReplyHeaders]: {
    type: 'object',
    description: 'A reply (docs/protocol.md §4-§5): published to the default exchange with `reply_to` as routing key.',
    required: ['x-status', 'correlation_id'],
    properties: {
      'x-status': { type: 'string', enum: ['ok', 'error', 'item', 'end'] },
      correlation_id: text("AMQP property: the request's call id."),
      'x-seq': digits('Stream items: 0, 1, 2, ...'),
      reply_to: text("Stream messages: the server's own address, for `credit` and `cancel` control messages."),
    },
  },
  [WIRE_SCHEMA.deadLetterHeaders]: {
    type: 'object',
    description:
      "Added to an event dead-lettered to its group queue's `.dlq` (docs/protocol.md §3); the event's own headers are kept.",
    properties: {
      'x-death-reason': { type: 'string', enum: ['handler-failed', 'invalid', 'undecodable', 'refused'] },
      'x-error-code': text('The error code, e.g. INTERNAL, INVALID_ARGUMENT (docs/errors.md).'),
      'x-error-message': text('The error message.'),
      'x-attempt': digits('Attempts made.'),
      'x-original-queue': text('The group queue.'),
      'x-original-topic': text('The topic (routing key).'),
      'x-dead-lettered-at': { type: 'string', format: 'date-time' },
    },
  },
  [WIRE_SCHEMA.error]: {
    type: 'object',
    description: 'The body of every error reply (docs/protocol.md §6), always JSON.',
    required: ['code', 'message', 'retryable'],
    properties: {
      code: text('Stable error code (docs/errors.md), e.g. INVALID_ARGUMENT, NOT_FOUND, DEADLINE_EXCEEDED.'),
      message: { type: 'string' },
      retryable: { type: 'boolean' },
      details: {
        type: 'object',
        description:
          'Structured detail, e.g. `violations: [{ pointer, message }]` for a payload that fails its schema.',
      },
    },
  },
};

/** `base` with one header pinned to a value: the method a request names, the status a reply has. */
export function pinned(base: string, header: string, value: string): JsonSchemaObject {
  return {
    allOf: [{ $ref: `#/components/schemas/${base}` }, { properties: { [header]: { const: value } } }],
  };
}
