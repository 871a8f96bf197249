/**
 * The server's side of one bidi or client-streaming call (docs/protocol.md §9), as
 * frames; both transports run it. It opens the stream (granting the caller `inputWindow`
 * items), feeds the caller's items to the handler's `input` (checked one by one), and
 * pulls the handler's output only while the caller's credit lasts, so a slow caller holds
 * the handler back. It stops on the first of: the output's end (or the one reply), an
 * error, the caller's cancel, the deadline, or a caller silent for a whole heartbeat.
 */
import type { Codec, CodecRegistry } from '../codec.js';
import {
  CancelledError,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  isSwitchyardError,
  ResourceExhaustedError,
  type SwitchyardError,
  toSwitchyardError,
  UnavailableError,
} from '../errors.js';
import type { BidiKind } from '../transport.js';
import { creditBatch, END, type Frame, PING } from './frames.js';
import { Heartbeat } from './heartbeat.js';

export interface BidiSessionSettings {
  readonly kind: BidiKind;
  /** `service.method`, for messages. */
  readonly label: string;
  readonly inputWindow: number;
  /** The caller's `x-stream-window`. */
  readonly outputWindow: number;
  readonly heartbeatMs: number;
  readonly deadline: number | undefined;
  /** The request's codec: items go both ways in it. */
  readonly codec: Codec;
  readonly codecs: CodecRegistry;
  readonly validateInput: ((item: unknown) => void) | undefined;
  readonly validateOutput: ((item: unknown) => void) | undefined;
  /** To the caller; false when it could not go out (the channel is down). */
  readonly send: (frame: Frame) => boolean;
  /** Failures the caller sees only as INTERNAL (a handler's plain Error), for the log. */
  readonly onError: (err: unknown) => void;
}

/** What the handler returned: the output iterable (bidi) or the reply (client-streaming). */
export type SessionHandler = (input: AsyncIterableIterator<unknown>, signal: AbortSignal) => unknown;

const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });

interface InputEntry {
  readonly seq: number;
  readonly item: unknown;
  /** Set when the item could not be decoded: handing it out ends the stream. */
  readonly bad: SwitchyardError | undefined;
}
const STOPPED: unique symbol = Symbol('stopped');

export class BidiSession {
  readonly input: InputItems;
  private readonly controller = new AbortController();
  private outputCredit: number;
  private stopped = false;
  /**
   * Settles the one race() in flight with STOPPED. Not a shared "stopped" promise raced
   * with Promise.race: that adds a reaction to it per output item, kept until the stream
   * ends, so a long stream's memory grew without bound (~350 bytes an item).
   */
  private stopWaiter: ((v: typeof STOPPED) => void) | undefined;
  private readonly heartbeat: Heartbeat;
  private deadlineTimer: NodeJS.Timeout | undefined;

  constructor(private readonly s: BidiSessionSettings) {
    this.outputCredit = s.outputWindow;
    this.input = new InputItems(this, s.inputWindow);
    this.heartbeat = new Heartbeat(
      s.heartbeatMs,
      () => this.send(PING),
      () => this.stop(new UnavailableError(`${s.label}: the caller was silent for ${s.heartbeatMs} ms; it is gone`)),
    );
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get label(): string {
    return this.s.label;
  }

  /** A frame from the caller. */
  onFrame(frame: Frame): void {
    if (this.stopped) return;
    this.heartbeat.received();
    switch (frame.t) {
      case 'item':
        this.onItem(frame.seq, frame.body, frame.contentType);
        return;
      case 'end':
        this.input.end();
        return;
      case 'credit':
        this.outputCredit += frame.n;
        this.pullOutput();
        return;
      case 'cancel':
        this.stop(new CancelledError(`${this.s.label}: the caller cancelled the stream`));
        return;
      default:
        return; // ping; anything else is not the caller's to send
    }
  }

  /**
   * End the stream from outside: the channel carrying it is gone (nothing can reach the
   * caller), or the server is closing (`tell`: the caller gets the reason as an error).
   */
  lost(reason: SwitchyardError, tell = false): void {
    this.stop(reason, tell);
  }

  /** Open the stream, run the handler, send its output; resolves when the stream is over, however it ended. */
  async run(handler: SessionHandler): Promise<void> {
    const s = this.s;
    if (!this.send({ t: 'open', credit: s.inputWindow })) {
      this.stop(new UnavailableError('the reply channel is down'));
      return;
    }
    this.heartbeat.start();
    if (s.deadline !== undefined) {
      this.deadlineTimer = setTimeout(
        () => this.stop(new DeadlineExceededError(`${s.label}: the stream passed its deadline`), true),
        Math.min(2_147_483_647, Math.max(0, s.deadline - Date.now())),
      );
    }
    try {
      const result = await this.race(Promise.resolve().then(() => handler(this.input, this.controller.signal)));
      if (result === STOPPED) return;
      if (s.kind === 'client') this.reply(result);
      else await this.pump(result);
    } catch (err) {
      this.failWith(err);
    } finally {
      this.stop(undefined);
    }
  }

  private reply(value: unknown): void {
    const body = this.checkAndEncode(value, 0);
    if (body === undefined) return;
    this.send({ t: 'ok', body, contentType: this.s.codec.contentType });
    this.stop(undefined);
  }

  /**
   * Send the handler's output while the caller's credit lasts. Driven by callbacks rather
   * than an `await` loop: a pull costs the iterator's own promise and one `then`, which is
   * most of what this side adds per item over a hand-written amqplib server. Resolves once
   * the output is over; a stream stopped while a pull is pending does not wait for it (a
   * handler that ignores its signal must not hold the request, and its ack, hostage):
   * the iterator is closed when it gets around to it.
   */
  private pump(result: unknown): Promise<void> {
    const iterator = iteratorOf(result);
    if (!iterator) {
      this.s.onError(new InternalError(`${this.s.label} is a bidi method but returned no async iterable`));
      this.failWith(new InternalError('internal error'));
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.out = { iterator, seq: 0, done: resolve };
      this.pullOutput();
    });
  }

  private out: { readonly iterator: AsyncIterator<unknown>; seq: number; readonly done: () => void } | undefined;
  private pulling = false;

  private pullOutput(): void {
    const out = this.out;
    if (out === undefined || this.pulling) return;
    if (this.stopped) {
      this.endOutput(false);
      return;
    }
    if (this.outputCredit <= 0) return; // the next credit frame pulls again
    this.pulling = true;
    let step: Promise<IteratorResult<unknown>>;
    try {
      step = out.iterator.next();
    } catch (err) {
      this.pulling = false;
      this.endOutput(true);
      this.failWith(err);
      return;
    }
    step.then(this.onOutput, this.onOutputError);
  }

  private readonly onOutput = (step: IteratorResult<unknown>): void => {
    this.pulling = false;
    const out = this.out;
    if (out === undefined) return; // stopped meanwhile; endOutput closed the iterator
    if (step.done) {
      this.endOutput(true);
      this.send(END);
      this.stop(undefined);
      return;
    }
    const body = this.checkAndEncode(step.value, out.seq);
    if (body === undefined) return; // the stream ended; stop() closed the iterator
    this.outputCredit--;
    this.send({ t: 'item', seq: out.seq++, body, contentType: this.s.codec.contentType });
    this.pullOutput();
  };

  private readonly onOutputError = (err: unknown): void => {
    this.pulling = false;
    if (this.out === undefined) return;
    this.endOutput(true); // an iterator that threw is finished
    this.failWith(err);
  };

  /** The output is over; `completed`: the iterator finished by itself, else it is closed (`return()`). */
  private endOutput(completed: boolean): void {
    const out = this.out;
    if (out === undefined) return;
    this.out = undefined;
    if (!completed && out.iterator.return) {
      const it = out.iterator;
      Promise.resolve()
        .then(() => it.return?.())
        .catch((err: unknown) => this.s.onError(err));
    }
    out.done();
  }

  /** The encoded output item, or undefined after ending the stream with INVALID_ARGUMENT / INTERNAL. */
  private checkAndEncode(value: unknown, seq: number): Buffer | undefined {
    if (this.s.validateOutput) {
      try {
        this.s.validateOutput(value);
      } catch (err) {
        this.s.onError(err);
        this.failWith(itemError(this.s.label, 'response', seq, err));
        return undefined;
      }
    }
    try {
      return this.s.codec.encode(value);
    } catch (err) {
      this.s.onError(err);
      this.failWith(new InternalError(`${this.s.label}: response item #${seq} cannot be encoded`));
      return undefined;
    }
  }

  private onItem(seq: number, body: Buffer, contentType: string): void {
    const input = this.input;
    if (input.ended) return; // after the caller's end: not the caller's to send
    if (seq !== input.received) {
      this.failWith(
        new UnavailableError(`${this.s.label}: caller item ${seq} came, ${input.received} expected; items were lost`),
      );
      return;
    }
    if (input.received >= input.granted) {
      this.failWith(
        new ResourceExhaustedError(`${this.s.label}: the caller sent more items than it was granted`, {
          details: { seq, granted: input.granted },
        }),
      );
      return;
    }
    let item: unknown;
    try {
      item = this.s.codecs.decode(body, contentType);
    } catch (err) {
      input.push(seq, undefined, itemError(this.s.label, 'request', seq, err));
      return;
    }
    input.push(seq, item, undefined);
  }

  /**
   * Checked when the handler takes it, not on arrival: the items before a bad one are
   * handled (and answered) first, and the handler meets the failure in order.
   */
  checkInput(seq: number, item: unknown): SwitchyardError | undefined {
    if (!this.s.validateInput) return undefined;
    try {
      this.s.validateInput(item);
      return undefined;
    } catch (err) {
      const e = itemError(this.s.label, 'request', seq, err);
      this.failWith(e);
      return e;
    }
  }

  /** An input item that cannot be used ends the stream. */
  failInput(err: SwitchyardError): void {
    this.failWith(err);
  }

  /** End the stream with an error the caller sees (a plain Error becomes INTERNAL, logged). */
  private failWith(err: unknown): void {
    if (this.stopped) return;
    const e = toSwitchyardError(err);
    if (e !== err) this.s.onError(err);
    this.send({ t: 'error', error: e });
    this.stop(e);
  }

  /** Stop both directions; `reason` undefined: the stream completed. `tell`: send the reason to the caller too. */
  private stop(reason: SwitchyardError | undefined, tell = false): void {
    if (this.stopped) return;
    if (tell && reason) this.send({ t: 'error', error: reason });
    this.stopped = true;
    clearTimeout(this.deadlineTimer);
    this.heartbeat.stop();
    this.input.close(reason);
    if (reason) this.controller.abort(reason);
    const w = this.stopWaiter;
    this.stopWaiter = undefined;
    w?.(STOPPED);
    this.endOutput(false);
  }

  /** `work`'s outcome, or STOPPED as soon as the stream stops (work's later failure is then ignored). */
  private race<T>(work: Promise<T>): Promise<T | typeof STOPPED> {
    if (this.stopped) {
      work.catch(() => {});
      return Promise.resolve(STOPPED);
    }
    return new Promise<T | typeof STOPPED>((resolve, reject) => {
      this.stopWaiter = resolve;
      work.then(
        (v) => {
          if (this.stopWaiter === resolve) this.stopWaiter = undefined;
          resolve(v);
        },
        (err: unknown) => {
          if (this.stopWaiter === resolve) this.stopWaiter = undefined;
          reject(err);
        },
      );
    });
  }

  send(frame: Frame): boolean {
    this.heartbeat.sent();
    return this.s.send(frame);
  }
}

/**
 * The caller's items as the handler reads them. Each one taken grants the caller credit
 * (in batches of half the window); a stream that stops makes a waiting `next()` throw
 * the reason (or end, when the stream completed).
 */
class InputItems implements AsyncIterableIterator<unknown> {
  private readonly items: InputEntry[] = [];
  private head = 0;
  private waiter: { resolve: (r: IteratorResult<unknown>) => void; reject: (e: unknown) => void } | undefined;
  private closedWith: SwitchyardError | undefined;
  private closed = false;
  ended = false;
  /** Items received so far (the next `x-seq` expected). */
  received = 0;
  /** Items the caller may send in all: the window plus every credit granted since. */
  granted: number;
  private unCredited = 0;
  private readonly batch: number;

  constructor(
    private readonly session: BidiSession,
    window: number,
  ) {
    this.granted = window;
    this.batch = creditBatch(window);
  }

  push(seq: number, item: unknown, bad: SwitchyardError | undefined): void {
    this.received++;
    const entry: InputEntry = { seq, item, bad };
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      this.hand(entry, w.resolve, w.reject);
    } else {
      this.items.push(entry);
    }
  }

  /** Give one entry to the handler: the item, or the stream's end when it is bad. */
  private hand(entry: InputEntry, resolve: (r: IteratorResult<unknown>) => void, reject: (e: unknown) => void): void {
    const err = entry.bad ?? this.session.checkInput(entry.seq, entry.item);
    if (err) {
      if (entry.bad) this.session.failInput(err);
      reject(err);
      return;
    }
    this.take();
    resolve({ done: false, value: entry.item });
  }

  end(): void {
    this.ended = true;
    const w = this.waiter;
    if (w && this.head >= this.items.length) {
      this.waiter = undefined;
      w.resolve(DONE);
    }
  }

  close(reason: SwitchyardError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closedWith = reason;
    if (reason) {
      this.items.length = 0;
      this.head = 0;
    }
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      if (reason) w.reject(reason);
      else w.resolve(DONE);
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.head < this.items.length) {
      const entry = this.items[this.head++]!;
      if (this.head === this.items.length) {
        this.items.length = 0;
        this.head = 0;
      }
      return new Promise((resolve, reject) => this.hand(entry, resolve, reject));
    }
    if (this.closed) return this.closedWith ? Promise.reject(this.closedWith) : Promise.resolve(DONE);
    if (this.ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** The handler stopped reading: later items are dropped without credit, so the caller stalls until the stream ends. */
  return(): Promise<IteratorResult<unknown>> {
    this.ended = true;
    this.items.length = 0;
    this.head = 0;
    return Promise.resolve(DONE);
  }

  private take(): void {
    if (this.closed || this.ended) return;
    if (++this.unCredited >= this.batch) {
      this.granted += this.unCredited;
      this.session.send({ t: 'credit', n: this.unCredited });
      this.unCredited = 0;
    }
  }
}

function itemError(label: string, direction: 'request' | 'response', seq: number, err: unknown): SwitchyardError {
  const inner = isSwitchyardError(err) ? err : undefined;
  const why = inner?.message ?? (err instanceof Error ? err.message : String(err));
  const details: Record<string, unknown> = { seq, direction };
  if (inner?.details?.violations !== undefined) details.violations = inner.details.violations;
  return new InvalidArgumentError(`${label}: ${direction} item #${seq} is invalid: ${why}`, { details });
}

function iteratorOf(value: unknown): AsyncIterator<unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const asyncIt = (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
  if (typeof asyncIt === 'function') return asyncIt.call(value);
  const syncIt = (value as Partial<Iterable<unknown>>)[Symbol.iterator];
  if (typeof syncIt !== 'function' || typeof value === 'string') return undefined;
  const it: Iterator<unknown> = syncIt.call(value);
  return {
    next: async () => it.next(),
    return: async () => it.return?.() ?? DONE,
  };
}
