import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A prefixed id matching schemas/common/identifiers.json (`ord_…`, `pay_…`). */
export function newId(prefix: 'ord' | 'pay' | 'ntf'): string {
  let s = `${prefix}_`;
  for (const b of randomBytes(12)) s += ALPHABET[b % ALPHABET.length];
  return s;
}

export const SCHEMA = Object.freeze({
  orderCreateRequest: 'https://schemas.switchyard.dev/orders/order.create.request.json',
  orderCreated: 'https://schemas.switchyard.dev/orders/order.created.event.json',
  chargeRequest: 'https://schemas.switchyard.dev/payments/payment.charge.request.json',
  chargeResponse: 'https://schemas.switchyard.dev/payments/payment.charge.response.json',
  feedFilter: 'https://schemas.switchyard.dev/notifications/feed.filter.json',
  feedItem: 'https://schemas.switchyard.dev/notifications/feed.item.json',
});
