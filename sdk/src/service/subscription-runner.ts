import type { EventHandler, SubscribeOptions, Transport } from '@switchyard/broker';
import type { ContextHost } from '../context/context-host.js';
import { IncomingEventContext } from '../context/event-context.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
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
  const handler: EventHandler = (event) => spec.handler(event.payload, new IncomingEventContext(host, event));
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
