/**
 * The caller side of a server-streaming call, as an async iterator.
 *
 * Items are buffered as they arrive (at most `window` ahead, the server's side of the
 * bargain) and each one the application takes grants the server one more. `return()`
 * (what `break` calls) cancels the stream on the server. The deadline bounds the whole
 * stream: when it passes, the next `next()` throws DEADLINE_EXCEEDED even if items wait.
 */
import {
  CancelledError,
  DeadlineExceededError,
  InternalError,
  isSwitchyardError,
  type SwitchyardError,
  UnavailableError,
} from '../errors.js';
import type { PreparedCall } from './call-request.js';
import type { ControlPort, ReplyPort, RpcReply } from './messages.js';
import type { PendingCall } from './pending-calls.js';
import { errorOfReply } from './replies.js';
import { type CallRoute, MAX_TIMER_MS } from './unary-call.js';

type Outcome = { readonly kind: 'end' } | { readonly kind: 'error'; readonly error: SwitchyardError };

interface Waiter {
  resolve(result: IteratorResult<unknown>): void;
  reject(err: unknown): void;
}

const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

export class StreamCall implements AsyncIterableIterator<unknown>, PendingCall {
  private readonly buffer: unknown[] = [];
  private readonly waiters: Waiter[] = [];
  private outcome: Outcome | undefined;
  /** Still receiving: no end, error, deadline, cancel or close yet. */
  private open = true;
  private control: ControlPort | undefined;
  private nextSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort = () =>
    this.terminate(
      { kind: 'error', error: new CancelledError(`${this.service}.${this.method} was cancelled by the caller`) },
      true,
    );

  constructor(
    private readonly route: CallRoute | undefined,
    private readonly service: string,
    private readonly method: string,
    prepared: PreparedCall | SwitchyardError,
    private readonly signal: AbortSignal | undefined,
  ) {
    // Argument errors surface on the first next(), like every other failure of the stream.
    if (isSwitchyardError(prepared) || !route) {
      this.open = false;
      this.outcome = {
        kind: 'error',
        error: isSwitchyardError(prepared) ? prepared : new InternalError('stream without a route'),
      };
      return;
    }
    if (signal?.aborted) {
      this.onAbort();
      return;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    route.pending.add(this);
    this.timer = setTimeout(
      () =>
        this.terminate(
          { kind: 'error', error: new DeadlineExceededError(`the stream ${service}.${method} passed its deadline`) },
          true,
        ),
      Math.min(Math.max(0, prepared.deadline - Date.now()), MAX_TIMER_MS),
    );
    const queue = route.bus.rpcQueue(route.namespace, service);
    if (!queue) {
      this.terminate(
        {
          kind: 'error',
          error: new UnavailableError(`no server is running service "${service}"`, { details: { service } }),
        },
        false,
      );
      return;
    }
    const replyTo: ReplyPort = {
      deliver: (reply) => {
        if (!this.open) return false;
        queueMicrotask(() => this.onReply(reply));
        return true;
      },
      waiting: () => this.open,
    };
    queue.work.enqueue(prepared.request(replyTo));
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.buffer.length > 0) {
      const value = this.buffer.shift();
      this.grant();
      return Promise.resolve({ done: false, value });
    }
    if (this.outcome) return this.takeOutcome();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** What `break` calls: cancel the stream on the server and finish. */
  return(): Promise<IteratorResult<unknown>> {
    this.terminate({ kind: 'end' }, true);
    this.buffer.length = 0;
    this.outcome = { kind: 'end' };
    return Promise.resolve(DONE);
  }

  throw(err?: unknown): Promise<IteratorResult<unknown>> {
    this.terminate({ kind: 'end' }, true);
    this.buffer.length = 0;
    this.outcome = { kind: 'end' };
    return Promise.reject(err);
  }

  /** PendingCall: the transport is closing. */
  fail(err: SwitchyardError): void {
    this.terminate({ kind: 'error', error: err }, true);
  }

  private onReply(reply: RpcReply): void {
    if (!this.open) {
      if (reply.status === 'item') reply.control.cancel();
      return;
    }
    switch (reply.status) {
      case 'item': {
        this.control ??= reply.control;
        if (reply.seq !== this.nextSeq) {
          this.terminate(
            { kind: 'error', error: new InternalError(`stream item ${reply.seq} arrived, ${this.nextSeq} expected`) },
            true,
          );
          return;
        }
        this.nextSeq++;
        let value: unknown;
        try {
          value = this.route!.codecs.decode(reply.body, reply.contentType);
        } catch (err) {
          this.terminate(
            { kind: 'error', error: new InternalError('a stream item cannot be decoded', { cause: err }) },
            true,
          );
          return;
        }
        const waiter = this.waiters.shift();
        if (waiter) {
          waiter.resolve({ done: false, value });
          this.grant();
        } else {
          this.buffer.push(value);
        }
        return;
      }
      case 'end':
        this.terminate({ kind: 'end' }, false, false);
        return;
      case 'error':
        this.terminate({ kind: 'error', error: errorOfReply(reply.body) }, false, false);
        return;
      default:
        this.terminate(
          { kind: 'error', error: new InternalError(`unexpected "${reply.status}" reply to a stream call`) },
          true,
        );
    }
  }

  /** One item consumed: the server may send one more. */
  private grant(): void {
    const control = this.control;
    if (!this.open || !control) return;
    queueMicrotask(() => control.credit(1));
  }

  /**
   * Stop receiving. `cancelServer`: tell the server to stop (it learns it anyway when its
   * next item bounces). `discard`: drop buffered items (deadline, cancel, close) rather
   * than hand them out before the outcome (end or error sent by the server).
   */
  private terminate(outcome: Outcome, cancelServer: boolean, discard = cancelServer): void {
    if (!this.open) return;
    this.open = false;
    clearTimeout(this.timer);
    this.route?.pending.delete(this);
    this.signal?.removeEventListener('abort', this.onAbort);
    const control = this.control;
    if (cancelServer && control) queueMicrotask(() => control.cancel());
    if (discard) this.buffer.length = 0;
    this.outcome = outcome;
    // Waiters exist only while the buffer is empty, so they all get the outcome.
    while (this.waiters.length > 0) {
      const waiter = this.waiters.shift()!;
      this.takeOutcome().then(waiter.resolve, waiter.reject);
    }
  }

  private takeOutcome(): Promise<IteratorResult<unknown>> {
    const outcome = this.outcome;
    if (outcome?.kind === 'error') {
      // Thrown once; the iterator is finished after that.
      this.outcome = { kind: 'end' };
      return Promise.reject(outcome.error);
    }
    return Promise.resolve(DONE);
  }
}
