/**
 * The OpenTelemetry semantic-convention attribute names Switchyard sets
 * (https://opentelemetry.io/docs/specs/semconv/). Spelled out here rather than imported
 * from `@opentelemetry/semantic-conventions`: the messaging and RPC names live in its
 * unstable `incubating` entry, which may rename them in any minor release.
 */
export const ATTR = {
  errorType: 'error.type',
  httpRequestMethod: 'http.request.method',
  httpRoute: 'http.route',
  httpResponseStatusCode: 'http.response.status_code',
  urlPath: 'url.path',
  urlScheme: 'url.scheme',
  rpcSystem: 'rpc.system',
  rpcService: 'rpc.service',
  rpcMethod: 'rpc.method',
  messagingSystem: 'messaging.system',
  messagingOperationType: 'messaging.operation.type',
  messagingOperationName: 'messaging.operation.name',
  messagingDestinationName: 'messaging.destination.name',
  messagingRoutingKey: 'messaging.rabbitmq.destination.routing_key',
  messagingMessageId: 'messaging.message.id',
  messagingConsumerGroup: 'messaging.consumer.group.name',
  /** Ours: the Switchyard route that matched (`http.route` holds its path template). */
  routeId: 'switchyard.route.id',
  /** Ours: the request id the gateway gave the request (`x-request-id`). */
  requestId: 'switchyard.request.id',
  /** Ours: how many delivery attempts an event has had. */
  deliveryAttempt: 'switchyard.delivery.attempt',
} as const;

/** `rpc.system` of a Switchyard call: its own protocol over the transport (docs/protocol.md). */
export const RPC_SYSTEM = 'switchyard';

/** `messaging.system` for a transport kind; the in-memory bus is not a messaging system. */
export function messagingSystemOf(transportKind: string): string | undefined {
  return transportKind === 'amqp' ? 'rabbitmq' : undefined;
}
