/**
 * The caller's side of a bidi or client-streaming call (docs/protocol.md §9), as frames:
 * the transport hands it the server's frames (`onFrame`) and carries the frames it sends
 * (`CallerLink`). Both transports use this one class, so they keep the same rules.
 *
 * Sending: `send()` queues the encoded item and resolves once it went out; it goes out
 * only while the server's credit lasts, so an awaited `send()` is paced by the server.
 * Receiving: the server's items wait in a buffer the server may fill at most `window`
 * deep, and credit goes back as the application takes them. Before `open` nothing can be
 * sent (the server's address is not known yet): sends wait, and a cancel waits for the
 * `open` to say where to go (or for the open timeout).
 */
import type { Codec, CodecRegistry } from '../codec.js';
import {
  BufferFullError,
  CancelledError,
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  isSwitchyardError,
  ResourceExhaustedError,
  type SwitchyardError,
  UnavailableError,
} from '../errors.js';
import type { BidiCall, BidiKind } from '../transport.js';
import { CANCEL, creditBatch, END, type Frame, MAX_QUEUED_SENDS, PING } from './frames.js';
import { Heartbeat } from './heartbeat.js';

/** Where the caller's frames go, and how it tells the transport it is done. */
export interface CallerLink<P> {
  send(peer: P, frame: Frame): void;
  /** The call is over: later frames for its id are dropped. */
  release(): void;
}

export interface BidiCallSettings {
  readonly id: string;
  readonly service: string;
  readonly method: string;
  readonly kind: BidiKind;
  readonly window: number;
  readonly heartbeatMs: number;
  /** Absolute, ms since the epoch; undefined: none. */
  readonly deadline: number | undefined;
  /** Encodes what the caller sends (the request's content type). */
  readonly codec: Codec;
  /** Decodes what the server sends. */
  readonly codecs: CodecRegistry;
  readonly signal: AbortSignal | undefined;
}

interface QueuedSend {
  readonly body: Buffer;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface Waiter {
  readonly resolve: (r: IteratorResult<unknown>) => void;
  readonly reject: (err: unknown) => void;
}

const DONE: IteratorResult<unknown> = Object.freeze({ done: true, value: undefined });
const SENT: Promise<void> = Promise.resolve();
const MAX_TIMER_MS = 2_147_483_647;

export class BidiCaller<P> implements BidiCall {
  readonly id: string;
  private peer: P | undefined;
  private opened = false;
  private credit = 0;
  private sendSeq = 0;
  private queue: QueuedSend[] = [];
  private endState: 'no' | 'asked' | 'sent' = 'no';
  private endWaiters: (() => void)[] = [];
  private readonly items: unknown[] = [];
  private head = 0;
  private recvSeq = 0;
  private unCredited = 0;
  /** Server items the caller allows in all: the window, plus every credit it sent since. */
  private granted: number;
  private readonly batch: number;
  private waiter: Waiter | undefined;
  /** Nothing more is received or sent. */
  private over = false;
  /** Thrown by `next()` once the buffered items are gone. */
  private outcome: SwitchyardError | undefined;
  /** Cancelled before `open`: stay registered until the server's address is known. */
  private cancelPending = false;
  private openTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: Heartbeat;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly s: BidiCallSettings,
    private readonly link: CallerLink<P>,
  ) {
    this.id = s.id;
    this.batch = creditBatch(s.window);
    this.granted = s.window;
    this.heartbeat = new Heartbeat(
      s.heartbeatMs,
      () => this.sendFrame(PING),
      () =>
        this.fail(
          new UnavailableError(`${this.label}: nothing heard from the server for ${s.heartbeatMs} ms; it is gone`, {
            details: { service: s.service, method: s.method, heartbeatMs: s.heartbeatMs },
          }),
        ),
    );
    const now = Date.now();
    const openWait = Math.min(s.heartbeatMs, s.deadline === undefined ? Number.POSITIVE_INFINITY : s.deadline - now);
    this.openTimer = setTimeout(BidiCaller.onOpenTimeout, Math.max(0, openWait), this);
    if (s.deadline !== undefined)
      this.deadlineTimer = setTimeout(
        BidiCaller.onDeadline,
        Math.min(MAX_TIMER_MS, Math.max(0, s.deadline - now)),
        this,
      );
    if (s.signal) {
      this.onAbort = () => this.cancel();
      s.signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** How long the request may wait for a server (its `expiration`): until the open timeout. */
  static openWaitMs(heartbeatMs: number, deadline: number | undefined): number {
    const left = deadline === undefined ? heartbeatMs : Math.min(heartbeatMs, deadline - Date.now());
    return Math.max(1, Math.floor(left));
  }

  private get label(): string {
    return `${this.s.service}.${this.s.method}`;
  }

  private static onOpenTimeout(call: BidiCaller<unknown>): void {
    call.openTimer = undefined;
    if (call.opened) return;
    if (call.over) {
      call.link.release(); // a cancel that never learnt the server's address
      return;
    }
    if (call.s.deadline !== undefined && Date.now() >= call.s.deadline) {
      BidiCaller.onDeadline(call);
      return;
    }
    call.finish(
      new UnavailableError(`no server opened the stream ${call.label} within ${call.s.heartbeatMs} ms`, {
        details: { service: call.s.service, method: call.s.method },
      }),
      true,
    );
  }

  /** No cancel goes out: the server has the same deadline and stops by itself, so its handler learns why. */
  private static onDeadline(call: BidiCaller<unknown>): void {
    call.deadlineTimer = undefined;
    call.finish(
      new DeadlineExceededError(`the stream ${call.label} did not finish before its deadline`, {
        details: { service: call.s.service, method: call.s.method },
      }),
      true,
    );
  }

  // ------------------------------------------------------------------ from the transport

  onFrame(frame: Frame, from: P | undefined): void {
    if (this.over) {
      // An open for a call we gave up (cancelled before it, or refused as a second open).
      if (frame.t === 'open' && from !== undefined) {
        this.link.send(from, CANCEL);
        if (this.cancelPending) {
          this.cancelPending = false;
          this.release();
        }
      }
      return;
    }
    if (!this.opened) {
      if (frame.t === 'open') this.onOpen(frame.credit, from);
      else if (frame.t === 'error') this.finish(frame.error, false);
      else this.fail(new InternalError(`${this.label}: the server sent "${frame.t}" before opening the stream`));
      return;
    }
    this.heartbeat.received();
    switch (frame.t) {
      case 'item':
        this.onItem(frame.seq, frame.body, frame.contentType);
        return;
      case 'credit':
        this.credit += frame.n;
        this.flush();
        return;
      case 'ping':
        return;
      case 'end':
        this.finish(undefined, false);
        return;
      case 'ok':
        if (this.s.kind !== 'client') {
          this.fail(new InternalError(`${this.label}: a bidi stream got a single reply`));
          return;
        }
        if (this.decodeAndPush(frame.body, frame.contentType)) this.finish(undefined, false);
        return;
      case 'error':
        this.finish(frame.error, false);
        return;
      case 'open':
        if (from !== this.peer) {
          // The request was redelivered to another instance: this stream cannot go on there.
          if (from !== undefined) this.link.send(from, CANCEL);
          this.fail(new UnavailableError(`the stream ${this.label} was interrupted: its server changed`));
        }
        return;
      case 'cancel':
        return;
    }
  }

  /** The request came back as basic.return: no server. */
  onReturn(): void {
    if (this.opened) return;
    this.finish(
      new UnavailableError(`no server for service "${this.s.service}"`, { details: { service: this.s.service } }),
      true,
    );
  }

  /** The call cannot go on (deadline, lost peer, transport closing): tell the server if we can. */
  fail(err: SwitchyardError): void {
    if (this.over) return;
    if (this.peer !== undefined) this.link.send(this.peer, CANCEL);
    this.finish(err, true);
  }

  private onOpen(credit: number, from: P | undefined): void {
    if (from === undefined) {
      this.fail(new InternalError(`${this.label}: the server's open carries no reply address`));
      return;
    }
    this.opened = true;
    this.peer = from;
    this.credit = credit;
    clearTimeout(this.openTimer);
    this.openTimer = undefined;
    this.heartbeat.start();
    this.flush();
  }

  private onItem(seq: number, body: Buffer, contentType: string): void {
    if (seq !== this.recvSeq) {
      this.fail(
        new UnavailableError(`the stream ${this.label} was interrupted: item ${seq} came, ${this.recvSeq} expected`),
      );
      return;
    }
    if (seq >= this.granted) {
      this.fail(new ResourceExhaustedError(`${this.label}: the server sent more items than the caller granted`));
      return;
    }
    this.recvSeq++;
    this.decodeAndPush(body, contentType);
  }

  private decodeAndPush(body: Buffer, contentType: string): boolean {
    let value: unknown;
    try {
      value = this.s.codecs.decode(body, contentType);
    } catch {
      this.fail(new InternalError(`${this.label}: the server sent an undecodable item`));
      return false;
    }
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      this.consumed();
      w.resolve({ done: false, value });
    } else {
      this.items.push(value);
    }
    return true;
  }

  // ------------------------------------------------------------------ the application's side

  send(item: unknown): Promise<void> {
    if (this.over) return Promise.reject(this.afterOver());
    if (this.endState !== 'no') return Promise.reject(new FailedPreconditionError(`${this.label}: send() after end()`));
    let body: Buffer;
    try {
      body = this.s.codec.encode(item);
    } catch (err) {
      return Promise.reject(
        new InvalidArgumentError(
          `${this.label}: the item cannot be encoded as ${this.s.codec.contentType}: ${isSwitchyardError(err) ? err.message : (err as Error)?.message}`,
        ),
      );
    }
    if (this.queue.length === 0 && this.credit > 0 && this.peer !== undefined) {
      this.sendItem(body);
      return SENT;
    }
    if (this.queue.length >= MAX_QUEUED_SENDS) {
      return Promise.reject(
        new BufferFullError(
          `${this.label}: ${MAX_QUEUED_SENDS} items already wait for the server's credit; await send()`,
          {
            details: { queued: this.queue.length },
          },
        ),
      );
    }
    return new Promise((resolve, reject) => this.queue.push({ body, resolve, reject }));
  }

  end(): Promise<void> {
    if (this.over || this.endState === 'sent') return SENT;
    if (this.endState === 'no') this.endState = 'asked';
    const done = new Promise<void>((resolve) => this.endWaiters.push(resolve));
    this.flush();
    return done;
  }

  cancel(reason?: string): void {
    if (this.over) return;
    const err = new CancelledError(reason ?? `the stream ${this.label} was cancelled by the caller`);
    if (this.peer !== undefined) {
      this.link.send(this.peer, CANCEL);
      this.finish(err, true);
    } else {
      this.cancelPending = true;
      this.finish(err, true, false);
    }
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
    const err = this.outcome;
    if (err) {
      this.outcome = undefined;
      return Promise.reject(err);
    }
    if (this.over) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Leaving a for-await early: cancel quietly. */
  return(): Promise<IteratorResult<unknown>> {
    this.cancel();
    this.items.length = 0;
    this.head = 0;
    this.outcome = undefined;
    return Promise.resolve(DONE);
  }

  // ------------------------------------------------------------------ internals

  private afterOver(): SwitchyardError {
    return (
      this.finalError ??
      new FailedPreconditionError(`the stream ${this.label} is over: the server ended it`, {
        details: { service: this.s.service, method: this.s.method },
      })
    );
  }

  private finalError: SwitchyardError | undefined;

  private sendFrame(frame: Frame): void {
    if (this.peer === undefined) return;
    this.heartbeat.sent();
    this.link.send(this.peer, frame);
  }

  private sendItem(body: Buffer): void {
    this.credit--;
    this.sendFrame({ t: 'item', seq: this.sendSeq++, body, contentType: this.s.codec.contentType });
  }

  private flush(): void {
    if (this.peer === undefined || this.over) return;
    while (this.credit > 0 && this.queue.length > 0) {
      const q = this.queue.shift()!;
      this.sendItem(q.body);
      q.resolve();
    }
    if (this.queue.length === 0 && this.endState === 'asked') {
      this.endState = 'sent';
      this.sendFrame(END);
      this.resolveEnd();
    }
  }

  private resolveEnd(): void {
    const waiters = this.endWaiters;
    this.endWaiters = [];
    for (const w of waiters) w();
  }

  private consumed(): void {
    if (this.over || this.peer === undefined) return;
    if (++this.unCredited >= this.batch) {
      this.granted += this.unCredited;
      this.sendFrame({ t: 'credit', n: this.unCredited });
      this.unCredited = 0;
    }
  }

  /**
   * Nothing more is sent or received. `discard`: drop buffered items (a failure found
   * here: the application should see it at once) rather than hand them out first (the
   * server's end or error). `release`: forget the call now (not while a cancel waits
   * for the server's address).
   */
  private finish(err: SwitchyardError | undefined, discard: boolean, release = true): void {
    if (this.over) return;
    this.over = true;
    this.finalError = err;
    clearTimeout(this.deadlineTimer);
    if (release) {
      clearTimeout(this.openTimer);
      this.openTimer = undefined;
    }
    this.heartbeat.stop();
    if (this.s.signal && this.onAbort) this.s.signal.removeEventListener('abort', this.onAbort);
    const queued = this.queue;
    this.queue = [];
    if (queued.length > 0) {
      const e = this.afterOver();
      for (const q of queued) q.reject(e);
    }
    this.resolveEnd();
    if (release) this.release();
    if (discard) {
      this.items.length = 0;
      this.head = 0;
    }
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      if (err) w.reject(err);
      else w.resolve(DONE);
    } else {
      this.outcome = err;
    }
  }

  private release(): void {
    this.link.release();
  }
}

/** A call that failed before it opened (closed transport, bad options): every use rejects with `err`. */
export function failedBidiCall(id: string, err: SwitchyardError): BidiCall {
  let thrown = false;
  const call: BidiCall = {
    id,
    send: () => Promise.reject(err),
    end: () => SENT,
    cancel: () => {},
    next: () => {
      if (thrown) return Promise.resolve(DONE);
      thrown = true;
      return Promise.reject(err);
    },
    return: () => {
      thrown = true;
      return Promise.resolve(DONE);
    },
    [Symbol.asyncIterator]: () => call,
  };
  return call;
}
