/**
 * Opening a bidi or client-streaming call on the in-memory bus: the same caller state
 * machine as on RabbitMQ (../bidi/bidi-call.ts), its frames handed over on a microtask
 * (as a wire would, never re-entrantly) to the server session that opened it.
 */
import { randomUUID } from 'node:crypto';
import { BidiCaller, failedBidiCall } from '../bidi/bidi-call.js';
import { resolveBidiOptions } from '../bidi/bidi-options.js';
import { BIDI_VERSION } from '../bidi/frames.js';
import { isSwitchyardError, type SwitchyardError, UnavailableError } from '../errors.js';
import type { BidiCall, BidiCallOptions } from '../transport.js';
import type { BidiPeer, ReplyPort } from './messages.js';
import type { PendingCall } from './pending-calls.js';
import { errorOfReply } from './replies.js';
import type { CallRoute } from './unary-call.js';

const EMPTY = Buffer.alloc(0);

export function openMemoryBidi(
  route: CallRoute,
  service: string,
  method: string,
  options: BidiCallOptions | undefined,
): BidiCall {
  const id = randomUUID();
  let o: ReturnType<typeof resolveBidiOptions>;
  try {
    o = resolveBidiOptions(service, method, options, route.codecs);
  } catch (err) {
    return failedBidiCall(id, isSwitchyardError(err) ? err : new UnavailableError(String(err)));
  }
  let released = false;
  const pending: PendingCall = { fail: (err: SwitchyardError) => call.fail(err) };
  const call: BidiCaller<BidiPeer> = new BidiCaller<BidiPeer>(
    {
      id,
      service,
      method,
      kind: o.kind,
      window: o.window,
      heartbeatMs: o.heartbeatMs,
      deadline: o.deadline,
      codec: o.codec,
      codecs: route.codecs,
      signal: options?.signal,
    },
    {
      send: (peer, frame) => queueMicrotask(() => peer.deliver(frame)),
      release: () => {
        released = true;
        route.pending.delete(pending);
      },
    },
  );
  route.pending.add(pending);
  const queue = route.bus.rpcQueue(route.namespace, service);
  if (!queue) {
    call.onReturn();
    return call;
  }
  const replyTo: ReplyPort = {
    deliver: (reply) => {
      if (released) return false;
      queueMicrotask(() => {
        if (reply.status === 'frame') call.onFrame(reply.frame, reply.peer);
        else if (reply.status === 'error') call.onFrame({ t: 'error', error: errorOfReply(reply.body) }, undefined);
      });
      return true;
    },
    waiting: () => !released,
  };
  const headers = {
    ...o.headers,
    'x-method': method,
    'x-stream-kind': o.kind,
    'x-stream-version': BIDI_VERSION,
    'x-stream-window': String(o.window),
    'x-heartbeat': String(o.heartbeatMs),
  };
  if (o.deadline !== undefined) (headers as Record<string, string>)['x-deadline'] = String(o.deadline);
  queue.work.enqueue({
    id,
    service,
    method,
    body: EMPTY,
    contentType: o.codec.contentType,
    headers,
    deadline: o.deadline,
    window: o.window,
    redelivered: false,
    replyTo,
    bidi: { kind: o.kind, version: BIDI_VERSION, heartbeatMs: o.heartbeatMs },
  });
  return call;
}
