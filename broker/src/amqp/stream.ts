/**
 * The caller's side of a server-streaming call (docs/protocol.md §5): an async iterator
 * fed by reply messages, with a credit window so a slow consumer holds the server back.
 *
 * The caller grants credit as it consumes items (in batches of half the window, so the
 * control traffic stays small). Leaving the loop early (`return()`), an abort signal or
 * the deadline send `cancel` to the server's own reply address, learnt from the first
 * stream message; a stream cancelled before that message waits for it to say cancel.
 */
import type { ConsumeMessage } from 'amqplib';
import type { CodecRegistry } from '../codec.js';
import {
  CancelledError,
  DeadlineExceededError,
  errorFromJSON,
  InternalError,
  type SwitchyardError,
  UnavailableError,
} from '../errors.js';
import { CONTROL, H, headerInt, headerString, STATUS } from './headers.js';

/** What a pending call needs from the client that owns the reply consumer. */
export interface ReplyRouter {
  readonly codecs: CodecRegistry;
  /** Forget the call: later replies with its id are dropped. */
  release(id: string, call: PendingReply): void;
  /** Send a control message (no body) to a server's reply address. */
  sendControl(replyTo: string, correlationId: string, headers: Record<string, string>): void;
}

export interface PendingReply {
  onReply(msg: ConsumeMessage): void;
  /** The request came back as basic.return: no server. */
  onReturn(): void;
  fail(err: SwitchyardError): void;
}

/** Decode an `x-status: error` body into a typed error; malformed bodies become INTERNAL. */
export function decodeErrorReply(msg: ConsumeMessage): SwitchyardError {
  try {
    return errorFromJSON(JSON.parse(msg.content.toString('utf8')));
  } catch {
    return new InternalError('malformed error reply');
  }
}

interface Waiter {
  resolve: (r: IteratorResult<unknown>) => void;
  reject: (err: unknown) => void;
}

const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

export class StreamCall implements AsyncIterableIterator<unknown>, PendingReply {
  private readonly items: unknown[] = [];
  private head = 0;
  private waiter: Waiter | undefined;
  /** Set once nothing more will arrive: done, failed, or cancelled. */
  private finished = false;
  private error: SwitchyardError | undefined;
  private nextSeq = 0;
  private serverReplyTo: string | undefined;
  private unCredited = 0;
  private readonly creditBatch: number;
  /** Cancelled before the server's address was known: cancel on its first message. */
  private cancelPending = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly router: ReplyRouter,
    readonly id: string,
    readonly service: string,
    readonly method: string,
    window: number,
    timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.creditBatch = Math.max(1, Math.floor(window / 2));
    this.timer = setTimeout(StreamCall.onDeadline, timeoutMs, this);
    if (signal) {
      this.onAbort = () => this.cancel(new CancelledError('stream cancelled by the caller'));
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** A stream that failed before it started (closed transport, bad arguments). */
  static failed(err: SwitchyardError): AsyncIterableIterator<unknown> {
    let thrown = false;
    const it: AsyncIterableIterator<unknown> = {
      next: () => {
        if (thrown) return Promise.resolve(DONE);
        thrown = true;
        return Promise.reject(err);
      },
      return: () => {
        thrown = true;
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  private static onDeadline(call: StreamCall): void {
    call.timer = undefined;
    if (call.finished) {
      call.release(); // a cancel that never learnt the server's address
      return;
    }
    call.cancel(
      new DeadlineExceededError(`stream ${call.service}.${call.method} did not finish before its deadline`, {
        details: { service: call.service, method: call.method },
      }),
    );
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head++];
      if (this.head === this.items.length) {
        this.items.length = 0;
        this.head = 0;
      }
      this.consumed();
      return Promise.resolve({ done: false, value });
    }
    if (this.error) {
      const err = this.error;
      this.error = undefined;
      return Promise.reject(err);
    }
    if (this.finished) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Leaving a for-await early: cancel the stream on the server. */
  return(): Promise<IteratorResult<unknown>> {
    this.cancel(undefined);
    this.items.length = 0;
    this.head = 0;
    this.error = undefined;
    return Promise.resolve(DONE);
  }

  onReply(msg: ConsumeMessage): void {
    if (this.finished) {
      // Only reachable while a cancel waits for the server's address.
      this.sendCancelTo(msg.properties.replyTo as string | undefined);
      this.release();
      return;
    }
    const raw = msg.properties.headers as Record<string, unknown> | undefined;
    this.serverReplyTo ??= msg.properties.replyTo as string | undefined;
    const status = headerString(raw, H.status);
    if (status === STATUS.item) {
      if (headerInt(raw, H.seq) !== this.nextSeq) {
        // Another instance restarted the stream (the first one died): the items no longer add up.
        this.cancel(new UnavailableError(`stream ${this.service}.${this.method} was interrupted`));
        return;
      }
      this.nextSeq++;
      let value: unknown;
      try {
        value = this.router.codecs.decode(msg.content, msg.properties.contentType as string | undefined);
      } catch {
        this.cancel(new InternalError(`stream ${this.service}.${this.method} sent an undecodable item`));
        return;
      }
      this.push(value);
    } else if (status === STATUS.end) {
      this.finish(undefined);
    } else if (status === STATUS.error) {
      this.finish(decodeErrorReply(msg));
    } else if (status === STATUS.ok) {
      // A unary reply where a stream was expected: accept it as a stream of one.
      try {
        this.push(this.router.codecs.decode(msg.content, msg.properties.contentType as string | undefined));
        this.finish(undefined);
      } catch {
        this.finish(new InternalError('undecodable reply'));
      }
    } else {
      this.cancel(new InternalError(`unexpected reply status ${JSON.stringify(status)}`));
    }
  }

  onReturn(): void {
    this.finish(
      new UnavailableError(`no server for service "${this.service}"`, { details: { service: this.service } }),
    );
  }

  /** The call cannot go on (transport closing, connection lost): tell the server if we still can. */
  fail(err: SwitchyardError): void {
    if (!this.finished && this.serverReplyTo !== undefined) this.sendCancelTo(this.serverReplyTo);
    this.finish(err);
  }

  private push(value: unknown): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      this.consumed();
      w.resolve({ done: false, value });
    } else {
      this.items.push(value);
    }
  }

  private consumed(): void {
    if (this.finished || this.serverReplyTo === undefined) return;
    if (++this.unCredited >= this.creditBatch) {
      this.router.sendControl(this.serverReplyTo, this.id, {
        [H.control]: CONTROL.credit,
        [H.credit]: String(this.unCredited),
      });
      this.unCredited = 0;
    }
  }

  /** Stop the stream on both sides; `err` (if any) is what the consumer sees next. */
  private cancel(err: SwitchyardError | undefined): void {
    if (this.finished) return;
    if (this.serverReplyTo !== undefined) {
      this.sendCancelTo(this.serverReplyTo);
      this.finish(err);
    } else {
      // Keep listening until the server's first message tells us where to send the cancel
      // (or the deadline passes).
      this.cancelPending = true;
      this.finish(err, false);
    }
  }

  private sendCancelTo(replyTo: string | undefined): void {
    if (replyTo) this.router.sendControl(replyTo, this.id, { [H.control]: CONTROL.cancel });
  }

  private finish(err: SwitchyardError | undefined, release = true): void {
    if (this.finished) {
      if (release && this.cancelPending) this.release();
      return;
    }
    this.finished = true;
    if (this.signal && this.onAbort) this.signal.removeEventListener('abort', this.onAbort);
    if (release) this.release();
    const w = this.waiter;
    this.waiter = undefined;
    if (err) {
      if (w) w.reject(err);
      else this.error = err;
    } else if (w) {
      w.resolve(DONE);
    }
  }

  private release(): void {
    this.cancelPending = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.router.release(this.id, this);
  }
}
