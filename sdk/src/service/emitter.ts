import { type Headers, InvalidArgumentError, type PublishReceipt, type Transport } from '@switchyard/broker';
import { AUTH_HEADER } from '../auth/auth-headers.js';
import type { EmitOptions, ParentContext } from '../context/context-host.js';
import { HEADER } from '../context/headers.js';
import { continueTrace, formatTraceparent, startTrace } from '../context/trace-context.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { ATTR, messagingSystemOf } from '../telemetry/semconv.js';
import { failSpan, parentContextOf, SpanKind, startSpan, traceparentOf, tracingOn } from '../telemetry/spans.js';
import { checkPayload } from './payload-check.js';

/**
 * Publishes the events a service declared: an undeclared topic or a payload that fails
 * the topic's schema is refused with INVALID_ARGUMENT and nothing is published.
 */
export class Emitter {
  constructor(
    private readonly service: string,
    private readonly transport: Transport,
    private readonly schemas: SchemaRegistry,
    private readonly emits: ReadonlyMap<string, string | null>,
  ) {}

  async emit(
    topic: string,
    payload: unknown,
    options: EmitOptions | undefined,
    parent: ParentContext | undefined,
  ): Promise<PublishReceipt> {
    const schema = this.emits.get(topic);
    if (schema === undefined) {
      throw new InvalidArgumentError(
        `"${topic}" is not among the topics service "${this.service}" declared in \`emits\``,
        { details: { topic } },
      );
    }
    if (schema !== null) checkPayload(this.schemas, schema, payload, 'event');
    const headers: Headers = options?.headers === undefined ? {} : { ...options.headers };
    if (tracingOn()) return this.traced(topic, payload, options, parent, headers);
    const trace = parent
      ? parent.trace
      : options?.traceparent === undefined
        ? startTrace()
        : continueTrace(options.traceparent);
    headers[HEADER.traceparent] = formatTraceparent(trace);
    return this.send(topic, payload, options, parent, headers);
  }

  /** A PRODUCER span from the publish until the broker confirms it; its id goes in `traceparent`. */
  private async traced(
    topic: string,
    payload: unknown,
    options: EmitOptions | undefined,
    parent: ParentContext | undefined,
    headers: Headers,
  ): Promise<PublishReceipt> {
    const span = startSpan(
      `publish ${topic}`,
      SpanKind.PRODUCER,
      {
        [ATTR.messagingSystem]: messagingSystemOf(this.transport.kind),
        [ATTR.messagingOperationType]: 'publish',
        [ATTR.messagingOperationName]: 'publish',
        [ATTR.messagingDestinationName]: topic,
        [ATTR.messagingRoutingKey]: topic,
      },
      parentContextOf(parent?.trace, options?.traceparent),
    );
    headers[HEADER.traceparent] = traceparentOf(span);
    let receipt: PublishReceipt;
    try {
      receipt = await this.send(topic, payload, options, parent, headers);
    } catch (err) {
      failSpan(span, err);
      span.end();
      throw err;
    }
    span.setAttribute(ATTR.messagingMessageId, receipt.messageId);
    span.end();
    return receipt;
  }

  private send(
    topic: string,
    payload: unknown,
    options: EmitOptions | undefined,
    parent: ParentContext | undefined,
    headers: Headers,
  ): Promise<PublishReceipt> {
    const caller = parent?.caller;
    if (caller !== undefined && caller !== this.service) headers[HEADER.caller] = caller;
    const userToken = parent?.userToken;
    if (userToken !== undefined) headers[AUTH_HEADER.userToken] = userToken;
    return this.transport.publish(topic, payload, {
      headers,
      source: this.service,
      ...(options?.messageId === undefined ? {} : { messageId: options.messageId }),
      ...(options?.contentType === undefined ? {} : { contentType: options.contentType }),
    });
  }
}
