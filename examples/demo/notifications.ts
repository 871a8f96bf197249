import { createService, type Infrastructure, type Service, type ServiceCredentials } from '@switchyard/sdk';
import { SCHEMA } from './ids.js';
import { type FeedFilter, NotificationFeed } from './notification-feed.js';

interface OrderCreated {
  orderId: string;
  customerId: string;
  total: { amount: number; currency: string };
}

/**
 * notifications: an event subscriber in two groups. Every group gets every event; the
 * instances of one group share them. `notifications-email` handles `orders.created`
 * (schema-checked: an invalid event goes to the dead-letter queue), `notifications-audit`
 * records everything under `orders.#`.
 *
 * It also serves `feed`, a bidi method: the live feed of those events, which the
 * subscriber filters as it goes by sending new filters (the gateway bridges it to a
 * WebSocket at /api/notifications/feed). The feed shows what this instance's audit group
 * member receives: with several instances, open one feed per instance or make the feed
 * group per instance.
 */
export async function startNotifications(infra: Infrastructure, credentials?: ServiceCredentials): Promise<Service> {
  const feed = new NotificationFeed();
  const service = createService({
    name: 'notifications',
    version: '1.0.0',
    infra,
    methods: {
      feed: {
        kind: 'bidi',
        request: SCHEMA.feedFilter,
        response: SCHEMA.feedItem,
        // A feed lives until the subscriber leaves: no bulkhead queue, but room for many.
        maxConcurrent: 1000,
        handler: (input: AsyncIterable<FeedFilter>) => feed.open(input),
      },
    },
    // With auth on (npm start's default) each service has its own account.
    ...(credentials ? { credentials } : {}),
    subscriptions: {
      'orders.created': {
        group: 'notifications-email',
        schema: SCHEMA.orderCreated,
        handler: (event: OrderCreated, ctx) => {
          ctx.logger.info(
            { orderId: event.orderId, customerId: event.customerId, total: event.total },
            'notifications: would email the customer an order confirmation',
          );
        },
      },
      'orders.#': {
        group: 'notifications-audit',
        handler: (event: unknown, ctx) => {
          ctx.logger.info({ topic: ctx.topic, eventId: ctx.eventId, caller: ctx.caller }, 'notifications: audit');
          feed.publish(ctx.topic, event);
        },
      },
    },
  });
  await service.start();
  return service;
}
