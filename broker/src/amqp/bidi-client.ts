/**
 * Opening a bidi or client-streaming call on RabbitMQ (docs/protocol.md §9, "Opening"):
 * the request goes out like a unary one from the RPC client's channel, with an empty body
 * and the stream headers; the server's frames come back on that channel's direct reply-to
 * consumer, and ours go from it to the server's address, so each direction stays in order.
 */
import type { ConsumeMessage, Options } from 'amqplib';
import { BidiCaller, failedBidiCall } from '../bidi/bidi-call.js';
import { resolveBidiOptions } from '../bidi/bidi-options.js';
import { BIDI_VERSION } from '../bidi/frames.js';
import { type SwitchyardError, UnavailableError } from '../errors.js';
import type { BidiCall, BidiCallOptions } from '../transport.js';
import { frameToMessage, messageToFrame } from './bidi-wire.js';
import { H } from './headers.js';
import type { RpcClient } from './rpc-client.js';
import type { PendingReply } from './stream.js';
import { DIRECT_REPLY_TO } from './topology.js';

const EMPTY = Buffer.alloc(0);

export function openBidi(
  client: RpcClient,
  service: string,
  method: string,
  options: BidiCallOptions | undefined,
): BidiCall {
  const id = client.nextId();
  let o: ReturnType<typeof resolveBidiOptions>;
  try {
    o = resolveBidiOptions(service, method, options, client.codecs);
  } catch (err) {
    return failedBidiCall(id, err as SwitchyardError);
  }
  const ch = client.channel;
  if (!ch)
    return failedBidiCall(
      id,
      new UnavailableError('not connected to RabbitMQ', { details: { reason: 'disconnected' } }),
    );
  let released = false;
  let pending: PendingReply;
  const call = new BidiCaller<string>(
    {
      id,
      service,
      method,
      kind: o.kind,
      window: o.window,
      heartbeatMs: o.heartbeatMs,
      deadline: o.deadline,
      codec: o.codec,
      codecs: client.codecs,
      signal: options?.signal,
    },
    {
      send: (peer, frame) => {
        const m = frameToMessage(frame, id);
        client.sendTo(peer, m.body, m.props);
      },
      release: () => {
        if (released) return;
        released = true;
        client.release(id, pending);
      },
    },
  );
  pending = {
    onReply: (msg: ConsumeMessage) => call.onFrame(messageToFrame(msg), msg.properties.replyTo as string | undefined),
    onReturn: () => call.onReturn(),
    fail: (err: SwitchyardError) => call.fail(err),
  };
  client.track(id, pending);
  const headers: Record<string, string> = {
    ...o.headers,
    [H.method]: method,
    [H.streamKind]: o.kind,
    [H.streamVersion]: BIDI_VERSION,
    [H.streamWindow]: String(o.window),
    [H.heartbeat]: String(o.heartbeatMs),
  };
  if (o.deadline !== undefined) headers[H.deadline] = String(o.deadline);
  const props: Options.Publish = {
    mandatory: true,
    replyTo: DIRECT_REPLY_TO,
    correlationId: id,
    messageId: id,
    contentType: o.codec.contentType,
    deliveryMode: 1,
    // Nobody may take the request after the caller stopped waiting for its open.
    expiration: String(BidiCaller.openWaitMs(o.heartbeatMs, o.deadline)),
    timestamp: Math.floor(Date.now() / 1000),
    headers,
  };
  if (!client.publish(ch, service, EMPTY, props))
    call.fail(
      new UnavailableError('connection to RabbitMQ lost before the request was sent', {
        details: { reason: 'disconnected' },
      }),
    );
  return call;
}
