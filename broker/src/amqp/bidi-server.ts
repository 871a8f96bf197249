/**
 * Serving one bidi or client-streaming request on RabbitMQ (docs/protocol.md §9): the
 * session's frames go out from the reply channel (whose direct reply-to address the
 * caller learns from `open`), and the caller's frames come back to that channel, routed
 * here by correlation id. The request is acked by the RPC server once this resolves.
 */
import type { ConsumeMessage } from 'amqplib';
import { BidiSession } from '../bidi/bidi-session.js';
import { DEFAULT_BIDI_WINDOW, DEFAULT_HEARTBEAT_MS, MAX_BIDI_WINDOW, MIN_HEARTBEAT_MS } from '../bidi/frames.js';
import type { Codec, CodecRegistry } from '../codec.js';
import { toSwitchyardError, UnavailableError } from '../errors.js';
import type { MethodDefinition } from '../transport.js';
import { frameToMessage, messageToFrame } from './bidi-wire.js';
import { H, headerInt, toStringHeaders } from './headers.js';
import { Request } from './incoming-request.js';
import type { TransportLogger } from './options.js';
import type { ReplyChannel } from './reply-channel.js';

export interface BidiServerDeps {
  readonly replies: ReplyChannel;
  readonly codecs: CodecRegistry;
  readonly logger: TransportLogger;
  /** The server's open sessions, so its close can end those the drain left. */
  readonly sessions: Set<BidiSession>;
}

export interface BidiRequestInfo {
  readonly id: string;
  readonly service: string;
  readonly method: string;
  readonly replyTo: string;
  readonly contentType: string;
  readonly raw: Record<string, unknown> | undefined;
  readonly deadline: number | undefined;
  readonly redelivered: boolean;
}

function clamp(v: number | undefined, min: number, max: number, fallback: number): number {
  return v === undefined ? fallback : Math.min(max, Math.max(min, v));
}

export async function runBidiCall(deps: BidiServerDeps, def: MethodDefinition, r: BidiRequestInfo): Promise<void> {
  const label = `${r.service}.${r.method}`;
  const send = (frame: Parameters<typeof frameToMessage>[0]): boolean => {
    const m = frameToMessage(frame, r.id);
    return deps.replies.send(r.replyTo, m.body, m.props);
  };
  let codec: Codec;
  try {
    codec = deps.codecs.codecOf(r.contentType);
  } catch (err) {
    send({ t: 'error', error: toSwitchyardError(err) });
    return;
  }
  const session = new BidiSession({
    kind: def.bidi ?? 'bidi',
    label,
    inputWindow: def.inputWindow ?? DEFAULT_BIDI_WINDOW,
    outputWindow: clamp(headerInt(r.raw, H.streamWindow), 1, MAX_BIDI_WINDOW, DEFAULT_BIDI_WINDOW),
    heartbeatMs: clamp(headerInt(r.raw, H.heartbeat), MIN_HEARTBEAT_MS, 2_147_483_647, DEFAULT_HEARTBEAT_MS),
    deadline: r.deadline,
    codec,
    codecs: deps.codecs,
    validateInput: def.validateRequest,
    validateOutput: def.validateResponse,
    send,
    onError: (err) => deps.logger.error({ err, service: r.service, method: r.method }, 'bidi handler failed'),
  });
  const target = {
    addCredit: () => {},
    cancel: () => session.lost(new UnavailableError(`${label}: the channel carrying the stream closed`)),
    onMessage: (msg: ConsumeMessage) => session.onFrame(messageToFrame(msg)),
  };
  if (!deps.replies.register(r.id, target)) {
    send({ t: 'error', error: new UnavailableError('the reply channel is down') });
    return;
  }
  deps.sessions.add(session);
  const req = new Request(
    r.id,
    r.service,
    r.method,
    undefined,
    toStringHeaders(r.raw),
    codec.contentType,
    r.deadline,
    r.redelivered,
  );
  try {
    await session.run((input, signal) => {
      req.input = input;
      signal.addEventListener('abort', () => req.abort(signal.reason as Error), { once: true });
      return def.handler(req);
    });
  } finally {
    deps.sessions.delete(session);
    deps.replies.unregister(r.id, target);
    req.dispose();
  }
}
