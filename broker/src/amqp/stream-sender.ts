/**
 * The server's side of a streaming call (docs/protocol.md §5): pulls items from the
 * handler's async iterable only while the caller has granted credit, so a slow caller
 * holds the generator back instead of filling memory. A cancel from the caller, or the
 * deadline, aborts the handler's signal and closes the generator (`return()`).
 */
import type { Codec } from '../codec.js';
import { CancelledError, DeadlineExceededError, InternalError, toSwitchyardError } from '../errors.js';
import { H, STATUS } from './headers.js';
import type { ControlTarget, ReplyChannel } from './reply-channel.js';
import { DIRECT_REPLY_TO } from './topology.js';

const EMPTY = Buffer.alloc(0);

export interface StreamTarget {
  replyTo: string;
  correlationId: string;
  codec: Codec;
  window: number;
  deadline: number | undefined;
  /** Aborts the handler's signal. */
  abort(reason: Error): void;
}

export class StreamSender implements ControlTarget {
  private credit: number;
  private seq = 0;
  private stopped = false;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly replies: ReplyChannel,
    private readonly target: StreamTarget,
    private readonly onError: (err: unknown) => void,
  ) {
    this.credit = target.window;
  }

  addCredit(n: number): void {
    this.credit += n;
    this.resume();
  }

  cancel(): void {
    this.stop(new CancelledError('stream cancelled by the caller'));
  }

  private stop(reason: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.target.abort(reason);
    this.resume();
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private send(status: string, body: Buffer, contentType: string, extra?: Record<string, string>): void {
    const headers: Record<string, string> = { [H.status]: status, ...extra };
    this.replies.send(this.target.replyTo, body, {
      correlationId: this.target.correlationId,
      contentType,
      // Our own direct reply-to address: the caller's control messages come back to us.
      replyTo: DIRECT_REPLY_TO,
      headers,
    });
  }

  /** Send everything the handler yields; resolves when the stream is over, however it ended. */
  async run(iterable: AsyncIterable<unknown>): Promise<void> {
    const { target } = this;
    if (!this.replies.register(target.correlationId, this)) {
      this.stop(new CancelledError('reply channel down'));
      return;
    }
    if (target.deadline !== undefined) {
      this.timer = setTimeout(
        () => this.stop(new DeadlineExceededError('stream deadline passed')),
        Math.max(0, target.deadline - Date.now()),
      );
    }
    let completed = false;
    let pulling = false;
    let iterator: AsyncIterator<unknown> | undefined;
    try {
      iterator = iterable[Symbol.asyncIterator]();
      for (;;) {
        while (this.credit <= 0 && !this.stopped) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
        }
        if (this.stopped) break;
        pulling = true;
        const r = await iterator.next();
        pulling = false;
        if (this.stopped) break;
        if (r.done) {
          completed = true;
          break;
        }
        let body: Buffer;
        try {
          body = target.codec.encode(r.value);
        } catch (err) {
          throw new InternalError('stream item cannot be encoded', { cause: err });
        }
        this.send(STATUS.item, body, target.codec.contentType, { [H.seq]: String(this.seq++) });
        this.credit--;
      }
      if (completed) this.send(STATUS.end, EMPTY, target.codec.contentType);
    } catch (err) {
      if (pulling) completed = true; // a generator that threw is finished; no return() needed
      if (!this.stopped) {
        const e = toSwitchyardError(err);
        if (e !== err) this.onError(err);
        this.send(STATUS.error, Buffer.from(JSON.stringify(e.toJSON())), 'application/json');
      }
    } finally {
      clearTimeout(this.timer);
      this.stopped = true;
      this.replies.unregister(target.correlationId, this);
      if (!completed && iterator?.return) {
        try {
          await iterator.return();
        } catch (err) {
          this.onError(err);
        }
      }
    }
  }
}
