/**
 * `BidiCallOptions` checked and defaulted once, the same for both transports: the kind,
 * the receive window, the heartbeat, the absolute deadline (none unless asked for) and
 * the codec items are sent in.
 */
import type { Codec, CodecRegistry } from '../codec.js';
import { CancelledError, DeadlineExceededError, InvalidArgumentError } from '../errors.js';
import type { BidiCallOptions, BidiKind, Headers } from '../transport.js';
import { DEFAULT_BIDI_WINDOW, DEFAULT_HEARTBEAT_MS, MAX_BIDI_WINDOW, MIN_HEARTBEAT_MS } from './frames.js';

export interface ResolvedBidiOptions {
  readonly kind: BidiKind;
  readonly window: number;
  readonly heartbeatMs: number;
  readonly deadline: number | undefined;
  readonly codec: Codec;
  readonly headers: Headers;
}

const MAX_TIMEOUT_MS = 2_147_483_647;

/** Throws INVALID_ARGUMENT naming the bad option, DEADLINE_EXCEEDED or CANCELLED. */
export function resolveBidiOptions(
  service: unknown,
  method: unknown,
  options: BidiCallOptions | undefined,
  codecs: CodecRegistry,
): ResolvedBidiOptions {
  if (typeof service !== 'string' || service.length === 0)
    throw new InvalidArgumentError('service must be a non-empty string');
  if (typeof method !== 'string' || method.length === 0)
    throw new InvalidArgumentError('method must be a non-empty string');
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError('bidi options must be an object');
  const kind = o.kind ?? 'bidi';
  if (kind !== 'bidi' && kind !== 'client')
    throw new InvalidArgumentError(`kind must be "bidi" or "client", got ${JSON.stringify(o.kind)}`);
  const window = o.window ?? DEFAULT_BIDI_WINDOW;
  if (!Number.isInteger(window) || window < 1 || window > MAX_BIDI_WINDOW)
    throw new InvalidArgumentError(`window must be an integer 1-${MAX_BIDI_WINDOW}, got ${JSON.stringify(o.window)}`);
  const heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < MIN_HEARTBEAT_MS || heartbeatMs > MAX_TIMEOUT_MS)
    throw new InvalidArgumentError(
      `heartbeatMs must be an integer of at least ${MIN_HEARTBEAT_MS}, got ${JSON.stringify(o.heartbeatMs)}`,
    );
  const now = Date.now();
  let deadline: number | undefined;
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== 'number' || !(o.timeoutMs > 0))
      throw new InvalidArgumentError(`timeoutMs must be a positive number, got ${JSON.stringify(o.timeoutMs)}`);
    deadline = Math.floor(now + Math.min(o.timeoutMs, MAX_TIMEOUT_MS));
  }
  if (o.deadline !== undefined) {
    if (typeof o.deadline !== 'number' || !Number.isFinite(o.deadline))
      throw new InvalidArgumentError(
        `deadline must be a time in ms since the epoch, got ${JSON.stringify(o.deadline)}`,
      );
    deadline = Math.floor(Math.min(deadline ?? Number.POSITIVE_INFINITY, o.deadline));
  }
  if (deadline !== undefined && deadline <= now)
    throw new DeadlineExceededError(`the deadline of ${service}.${method} passed before the stream opened`);
  if (o.signal?.aborted) throw new CancelledError(`the stream ${service}.${method} was cancelled before it opened`);
  let codec: Codec;
  try {
    codec = o.contentType === undefined ? codecs.default : codecs.get(o.contentType);
  } catch {
    throw new InvalidArgumentError(`no codec for content type "${o.contentType}"`);
  }
  const headers: Headers = {};
  if (o.headers !== undefined) {
    if (typeof o.headers !== 'object' || o.headers === null)
      throw new InvalidArgumentError('headers must be an object');
    for (const [name, value] of Object.entries(o.headers)) {
      if (typeof value !== 'string') throw new InvalidArgumentError(`header "${name}" must be a string`);
      headers[name] = value;
    }
  }
  return { kind, window, heartbeatMs, deadline, codec, headers };
}
