/**
 * The caller side of a unary call: send the request, then wait for the one reply, the
 * deadline, the caller's abort signal, or the transport closing, whichever comes first.
 * A reply that arrives after that is dropped (the reply port is closed).
 */
import type { CodecRegistry } from '../codec.js';
import {
  CancelledError,
  DeadlineExceededError,
  InternalError,
  type SwitchyardError,
  UnavailableError,
} from '../errors.js';
import type { MemoryBus } from './bus.js';
import type { PreparedCall } from './call-request.js';
import type { ReplyPort, RpcReply } from './messages.js';
import type { PendingCall, PendingCalls } from './pending-calls.js';
import { errorOfReply } from './replies.js';

export interface CallRoute {
  readonly bus: MemoryBus;
  readonly namespace: string;
  readonly codecs: CodecRegistry;
  readonly pending: PendingCalls;
}

/** Longest delay setTimeout accepts. */
export const MAX_TIMER_MS = 2_147_483_647;

export function unaryCall(
  route: CallRoute,
  service: string,
  method: string,
  prepared: PreparedCall,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let open = true;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      open = false;
      clearTimeout(timer);
      route.pending.delete(entry);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: SwitchyardError) => {
      if (!open) return;
      finish();
      reject(err);
    };
    const entry: PendingCall = { fail };
    const onAbort = () => fail(new CancelledError(`${service}.${method} was cancelled by the caller`));
    const onReply = (reply: RpcReply) => {
      if (!open) return;
      finish();
      if (reply.status === 'error') return reject(errorOfReply(reply.body));
      if (reply.status !== 'ok') return reject(new InternalError(`unexpected "${reply.status}" reply to a unary call`));
      try {
        resolve(route.codecs.decode(reply.body, reply.contentType));
      } catch (err) {
        reject(new InternalError(`the reply of ${service}.${method} cannot be decoded`, { cause: err }));
      }
    };
    const replyTo: ReplyPort = {
      deliver: (reply) => {
        if (!open) return false;
        queueMicrotask(() => onReply(reply));
        return true;
      },
      waiting: () => open,
    };

    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    route.pending.add(entry);
    timer = setTimeout(
      () => fail(new DeadlineExceededError(`${service}.${method} did not answer before its deadline`)),
      Math.min(Math.max(0, prepared.deadline - Date.now()), MAX_TIMER_MS),
    );
    const queue = route.bus.rpcQueue(route.namespace, service);
    if (!queue)
      return fail(new UnavailableError(`no server is running service "${service}"`, { details: { service } }));
    queue.work.enqueue(prepared.request(replyTo));
  });
}
