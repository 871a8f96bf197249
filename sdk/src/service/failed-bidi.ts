import type { SwitchyardError } from '@switchyard/broker';
import type { ServiceBidiCall, ServiceClientStream } from '../context/context-host.js';

const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

/** What `clientStreamOf` needs of a call: OutgoingBidi (bidi-caller.ts) or FailedBidi. */
export interface ReplyingCall {
  readonly id: string;
  send(item: unknown): Promise<void>;
  cancel(reason?: string): void;
  reply(): Promise<unknown>;
}

/** A stream that failed before it opened: every use rejects with `err` (`next()` once). */
export class FailedBidi implements ServiceBidiCall {
  readonly id = '';
  private thrown = false;

  constructor(private readonly err: SwitchyardError) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  send(): Promise<void> {
    return Promise.reject(this.err);
  }

  end(): Promise<void> {
    return Promise.resolve();
  }

  cancel(): void {}

  next(): Promise<IteratorResult<unknown>> {
    if (this.thrown) return Promise.resolve(DONE);
    this.thrown = true;
    return Promise.reject(this.err);
  }

  return(): Promise<IteratorResult<unknown>> {
    this.thrown = true;
    return Promise.resolve(DONE);
  }

  reply(): Promise<unknown> {
    return Promise.reject(this.err);
  }
}

/** `clientStream()`'s shape over either: `end()` resolves to the reply. */
export function clientStreamOf(call: ReplyingCall): ServiceClientStream {
  return {
    get id() {
      return call.id;
    },
    send: (item) => call.send(item),
    end: () => call.reply(),
    cancel: (reason) => call.cancel(reason),
  };
}
