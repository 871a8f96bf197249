/**
 * The ~100-byte JSON message every suite sends, and the JSON Schemas "ours" validates
 * it against (request and response), so validation cost is part of what is measured.
 */
export const PAYLOAD = Object.freeze({
  sku: 'SKU-0001234',
  qty: 3,
  warehouse: 'eu-west-1a',
  note: 'benchmark payload, about one hundred bytes',
});

export const REQUEST_SCHEMA = Object.freeze({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://switchyard.dev/bench/reserve-request.json',
  type: 'object',
  required: ['sku', 'qty'],
  additionalProperties: false,
  properties: {
    sku: { type: 'string', minLength: 1, maxLength: 64 },
    qty: { type: 'integer', minimum: 1 },
    warehouse: { type: 'string' },
    note: { type: 'string', maxLength: 200 },
  },
});

export const RESPONSE_SCHEMA = Object.freeze({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://switchyard.dev/bench/reserve-response.json',
  type: 'object',
  required: ['reserved', 'sku', 'qty'],
  additionalProperties: false,
  properties: {
    reserved: { type: 'boolean' },
    sku: { type: 'string' },
    qty: { type: 'integer', minimum: 1 },
    warehouse: { type: 'string' },
  },
});

export interface ReservePayload {
  sku: string;
  qty: number;
  warehouse?: string;
}

/** What both the raw and our server answer. */
export function reserveReply(p: ReservePayload): { reserved: true; sku: string; qty: number; warehouse?: string } {
  return { reserved: true, sku: p.sku, qty: p.qty, warehouse: p.warehouse };
}
