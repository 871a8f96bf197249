import type { EventHandler, IncomingEvent, SubscribeOptions, Transport } from '@switchyard/broker';
import type { ContextHost } from '../context/context-host.js';
import { IncomingEventContext } from '../context/event-context.js';
import { HEADER } from '../context/headers.js';
import { parseTraceparent } from '../context/trace-context.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { ATTR, messagingSystemOf } from '../telemetry/semconv.js';
import { endWith, remoteParent, SpanKind, startSpan, traceOfSpan, tracingOn, withSpan } from '../telemetry/spans.js';
import { checkPayload } from './payload-check.js';
import type { ResolvedSubscription } from './service-options.js';

/**
 * One event subscription as the transport takes it: the schema check goes in the
 * transport's `validate` hook (an invalid event is dead-lettered at once, retrying cannot
 * fix it), the handler gets the payload and an EventContext continuing the publisher's trace.
 */
export function subscribeWith(
  transport: Transport,
  host: ContextHost,
  spec: ResolvedSubscription,
  schemas: SchemaRegistry,
) {
  const system = messagingSystemOf(transport.kind);
  const handler: EventHandler = (event) =>
    tracingOn()
      ? traced(event, system, spec, host)
      : spec.handler(event.payload, new IncomingEventContext(host, event));
  const options: SubscribeOptions = { group: spec.group };
  if (spec.schema !== undefined) {
    const id = spec.schema;
    options.validate = (payload) => checkPayload(schemas, id, payload, 'event');
  }
  if (spec.queueType !== undefined) options.queueType = spec.queueType;
  if (spec.retry !== undefined) options.retry = spec.retry;
  if (spec.prefetch !== undefined) options.prefetch = spec.prefetch;
  return transport.subscribe(spec.topic, handler, options);
}

/**
 * A CONSUMER span over one handler run (each delivery attempt has its own), child of the
 * publisher's span from `traceparent`; the handler runs with it active.
 */
async function traced(
  event: IncomingEvent,
  system: string | undefined,
  spec: ResolvedSubscription,
  host: ContextHost,
): Promise<void> {
  const header = event.headers[HEADER.traceparent];
  const parent = remoteParent(header);
  const span = startSpan(
    `process ${event.topic}`,
    SpanKind.CONSUMER,
    {
      [ATTR.messagingSystem]: system,
      [ATTR.messagingOperationType]: 'process',
      [ATTR.messagingOperationName]: 'process',
      [ATTR.messagingDestinationName]: event.topic,
      [ATTR.messagingRoutingKey]: event.topic,
      [ATTR.messagingMessageId]: event.id,
      [ATTR.messagingConsumerGroup]: spec.group,
      [ATTR.deliveryAttempt]: event.attempt,
    },
    parent,
  );
  const ctx = new IncomingEventContext(host, event, traceOfSpan(span, parseTraceparent(header)?.parentSpanId));
  await endWith(
    span,
    withSpan(span, parent, async () => spec.handler(event.payload, ctx)),
  );
}
