/**
 * Building a request from call() / stream() arguments: validate, pick the codec, encode,
 * and fix the absolute deadline (the earlier of `timeoutMs` and `deadline`).
 */
import { randomUUID } from 'node:crypto';
import type { Codec, CodecRegistry } from '../codec.js';
import { DeadlineExceededError, InvalidArgumentError, isSwitchyardError } from '../errors.js';
import type { CallOptions, Headers, StreamCallOptions } from '../transport.js';
import type { ReplyPort, RpcRequest } from './messages.js';

export interface CallDefaults {
  readonly codecs: CodecRegistry;
  readonly defaultTimeoutMs: number;
  readonly defaultStreamWindow: number;
}

export interface PreparedCall {
  readonly deadline: number;
  readonly codec: Codec;
  /** The request, given the port its replies go to. */
  readonly request: (replyTo: ReplyPort) => RpcRequest;
}

export function prepareCall(
  defaults: CallDefaults,
  service: string,
  method: string,
  payload: unknown,
  options: CallOptions | StreamCallOptions,
  streaming: boolean,
): PreparedCall {
  if (typeof service !== 'string' || service.length === 0)
    throw new InvalidArgumentError('service must be a non-empty string');
  if (typeof method !== 'string' || method.length === 0)
    throw new InvalidArgumentError('method must be a non-empty string');
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('call options must be an object');
  const now = Date.now();
  const timeoutMs = options.timeoutMs ?? defaults.defaultTimeoutMs;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new InvalidArgumentError(`timeoutMs must be a finite number > 0, got ${String(options.timeoutMs)}`);
  if (options.deadline !== undefined && (typeof options.deadline !== 'number' || !Number.isFinite(options.deadline)))
    throw new InvalidArgumentError(
      `deadline must be a finite time in ms since the epoch, got ${String(options.deadline)}`,
    );
  // Accepted for parity with the AMQP transport; a started memory transport is always ready.
  if (options.waitForReady !== undefined && typeof options.waitForReady !== 'boolean')
    throw new InvalidArgumentError(`waitForReady must be a boolean, got ${JSON.stringify(options.waitForReady)}`);
  const deadline = Math.floor(Math.min(now + timeoutMs, options.deadline ?? Number.POSITIVE_INFINITY));
  if (deadline <= now) throw new DeadlineExceededError(`the deadline of ${service}.${method} passed before the call`);

  let window: number | undefined;
  if (streaming) {
    window = (options as StreamCallOptions).window ?? defaults.defaultStreamWindow;
    if (!Number.isInteger(window) || window < 1)
      throw new InvalidArgumentError(`window must be an integer >= 1, got ${String(window)}`);
  }
  const codec = codecFor(defaults.codecs, options.contentType);
  const body = encodePayload(codec, payload);
  const headers: Headers = {
    ...checkHeaders(options.headers),
    'x-method': method,
    'x-deadline': String(deadline),
  };
  if (window !== undefined) headers['x-stream-window'] = String(window);
  const id = randomUUID();
  return {
    deadline,
    codec,
    request: (replyTo) => ({
      id,
      service,
      method,
      body,
      contentType: codec.contentType,
      headers,
      deadline,
      window,
      redelivered: false,
      replyTo,
    }),
  };
}

export function codecFor(codecs: CodecRegistry, contentType: string | undefined): Codec {
  if (contentType === undefined) return codecs.default;
  try {
    return codecs.get(contentType);
  } catch {
    throw new InvalidArgumentError(`no codec for content type "${contentType}"`, { details: { contentType } });
  }
}

export function encodePayload(codec: Codec, payload: unknown): Buffer {
  try {
    return codec.encode(payload);
  } catch (err) {
    if (isSwitchyardError(err)) throw err;
    throw new InvalidArgumentError(
      `payload cannot be encoded as ${codec.contentType}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export function checkHeaders(headers: unknown): Headers {
  if (headers === undefined) return {};
  if (typeof headers !== 'object' || headers === null) throw new InvalidArgumentError('headers must be an object');
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw new InvalidArgumentError(`header "${name}" must be a string`);
  }
  return { ...(headers as Headers) };
}
