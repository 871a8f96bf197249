/**
 * Header names of the wire protocol (docs/protocol.md) and the conversion of AMQP header
 * tables into the string map handlers see.
 */
import type { Headers } from '../transport.js';

export const H = {
  source: 'x-source',
  attempt: 'x-attempt',
  method: 'x-method',
  deadline: 'x-deadline',
  status: 'x-status',
  seq: 'x-seq',
  streamWindow: 'x-stream-window',
  streamKind: 'x-stream-kind',
  streamVersion: 'x-stream-version',
  heartbeat: 'x-heartbeat',
  control: 'x-control',
  credit: 'x-credit',
  deathReason: 'x-death-reason',
  errorCode: 'x-error-code',
  errorMessage: 'x-error-message',
  originalQueue: 'x-original-queue',
  originalTopic: 'x-original-topic',
  deadLetteredAt: 'x-dead-lettered-at',
} as const;

/** Values of `x-status` on replies. */
export const STATUS = { ok: 'ok', error: 'error', item: 'item', end: 'end', open: 'open' } as const;

/** Values of `x-control` on stream control messages. */
export const CONTROL = { credit: 'credit', cancel: 'cancel', ping: 'ping' } as const;

/** Headers RabbitMQ adds when it dead-letters (delay queues expiring); not ours to copy forward. */
export function isBrokerDeathHeader(name: string): boolean {
  return name === 'x-death' || name.startsWith('x-first-death-') || name.startsWith('x-last-death-');
}

/**
 * The protocol's headers are strings; other clients may send numbers or bytes. Scalars
 * become strings, tables and arrays (RabbitMQ's `x-death`) are left out.
 */
export function toStringHeaders(raw: Record<string, unknown> | undefined): Headers {
  const out: Headers = {};
  if (!raw) return out;
  for (const key in raw) {
    const v = raw[key];
    if (typeof v === 'string') out[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') out[key] = String(v);
    else if (Buffer.isBuffer(v)) out[key] = v.toString('utf8');
  }
  return out;
}

/** A header read as a string, whatever scalar type another client used. */
export function headerString(raw: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = raw?.[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}

/** A header holding a non-negative integer (decimal string or number), else undefined. */
export function headerInt(raw: Record<string, unknown> | undefined, name: string): number | undefined {
  const s = headerString(raw, name);
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
