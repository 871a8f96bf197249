import { createService, type Infrastructure, type Service, type ServiceCredentials } from '@switchyard/sdk';
import { SCHEMA } from './ids.js';

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
 */
export async function startNotifications(infra: Infrastructure, credentials?: ServiceCredentials): Promise<Service> {
  const service = createService({
    name: 'notifications',
    version: '1.0.0',
    infra,
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
        handler: (_event: unknown, ctx) => {
          ctx.logger.info({ topic: ctx.topic, eventId: ctx.eventId, caller: ctx.caller }, 'notifications: audit');
        },
      },
    },
  });
  await service.start();
  return service;
}
