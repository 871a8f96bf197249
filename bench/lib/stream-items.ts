/**
 * The items of the stream suite: the ~100-byte payload of the other suites plus its index,
 * the same for the raw and the SDK server, and the JSON Schemas the SDK checks them
 * against (the request once per stream, every item on both sides).
 */
import { PAYLOAD } from './payload.js';

export const STREAM_SERVICE = 'bench-stream';
export const STREAM_METHOD = 'items';

export const STREAM_REQUEST_SCHEMA = Object.freeze({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://switchyard.dev/bench/stream-request.json',
  type: 'object',
  required: ['count'],
  additionalProperties: false,
  properties: { count: { type: 'integer', minimum: 0 } },
});

export const STREAM_ITEM_SCHEMA = Object.freeze({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://switchyard.dev/bench/stream-item.json',
  type: 'object',
  required: ['n', 'sku', 'qty'],
  additionalProperties: false,
  properties: {
    n: { type: 'integer', minimum: 0 },
    sku: { type: 'string', minLength: 1, maxLength: 64 },
    qty: { type: 'integer', minimum: 1 },
    warehouse: { type: 'string' },
    note: { type: 'string', maxLength: 200 },
  },
});

export interface StreamRequest {
  count: number;
}

/** Item `n` of a stream. */
export function streamItem(n: number): { n: number; sku: string; qty: number; warehouse: string; note: string } {
  return { n, sku: PAYLOAD.sku, qty: PAYLOAD.qty, warehouse: PAYLOAD.warehouse, note: PAYLOAD.note };
}
