import { type Headers, InvalidArgumentError, type PublishReceipt, type Transport } from '@switchyard/broker';
import { AUTH_HEADER } from '../auth/auth-headers.js';
import type { EmitOptions, ParentContext } from '../context/context-host.js';
import { HEADER } from '../context/headers.js';
import { continueTrace, formatTraceparent, startTrace } from '../context/trace-context.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
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
    const trace = parent
      ? parent.trace
      : options?.traceparent === undefined
        ? startTrace()
        : continueTrace(options.traceparent);
    const headers: Headers = options?.headers === undefined ? {} : { ...options.headers };
    headers[HEADER.traceparent] = formatTraceparent(trace);
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
