import type { Duplex } from 'node:stream';
import {
  type BidiCall,
  InvalidArgumentError,
  type SwitchyardError,
  toSwitchyardError,
  UnavailableError,
} from '@switchyard/broker';
import { type RawData, WebSocket } from 'ws';
import type { HttpErrorBody } from '../http/error-response.js';
import { WS_CLOSE, wsCloseCodeOf, wsCloseReason } from '../http/ws-close-codes.js';

export interface WsSessionOptions {
  /** Carried in the last `{"error": ...}` message, as in every gateway error body. */
  requestId: string;
  /** Stop pulling the service's items while more than this waits to be written to the client, bytes. */
  highWaterBytes: number;
  /** After the client closed, how long the service may go on before its stream is cancelled, ms. */
  halfCloseGraceMs: number;
  /**
   * A connection that wrote nothing for this long gets a ping frame, ms. 0: never. Keeps
   * idle-timeout proxies from cutting it, and finds a client that vanished while its
   * socket was paused: nothing is read from it then, so its end never arrives, but a
   * write to a closed peer fails.
   */
  keepAliveMs: number;
  /** Checks one client item before it goes to the service (the route's `requestSchema`); throws INVALID_ARGUMENT. */
  validate?: ((item: unknown, seq: number) => void) | undefined;
}

/** How the session ended: the close code the gateway sent, else the one the client sent (1006: none). */
export type WsSessionEnd = { code: number; error: SwitchyardError | undefined };

/**
 * One WebSocket bridged to one bidi call (docs/gateway.md "WebSocket streams"):
 *
 * - **client → service**: each text message is one JSON item, sent with `call.send()`. While
 *   a send waits for the service's credit the socket is paused, so a fast client is held
 *   back by TCP instead of being buffered here; the few messages ws had already parsed
 *   wait in a queue bounded by one socket read.
 * - **service → client**: each item is one text message. The next item is pulled only
 *   while less than `highWaterBytes` waits to be written, so a client that stops reading
 *   holds the service back through the call's credit window.
 * - **ending**: the service's end closes with 1000; a failure sends a last
 *   `{"error": {...}}` message and closes with the code of ws-close-codes.ts. A client
 *   that closes cleanly half-closes the call (`end()`: the service sees its input end);
 *   the service's further items are dropped (a WebSocket cannot be read after its close),
 *   and it is cancelled if it has not ended within `halfCloseGraceMs`. A connection that
 *   drops without a close frame (1006) cancels at once.
 */
export class WsSession {
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #call: BidiCall;
  readonly #o: WsSessionOptions;
  /** Client items parsed while a send was waiting. */
  readonly #queue: unknown[] = [];
  #seq = 0;
  #sending = false;
  /** No more client items go to the call (it failed, or the gateway closed the socket). */
  #inputOver = false;
  /** The client closed: `end()` the call once the queue is sent. */
  #endAfterQueue = false;
  /** The socket is closed: output is dropped. */
  #socketClosed = false;
  /** The output loop finished (the call is over). */
  #callOver = false;
  /** The gateway started closing the socket (with this code). */
  #sentCode: number | undefined;
  #error: SwitchyardError | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  #keepAlive: NodeJS.Timeout | undefined;
  #lastWrite = Date.now();
  readonly #closed: Promise<WsSessionEnd>;
  #resolveClosed!: (end: WsSessionEnd) => void;
  readonly #finished: Promise<void>;
  #callEnded!: () => void;

  constructor(ws: WebSocket, socket: Duplex, call: BidiCall, options: WsSessionOptions) {
    this.#ws = ws;
    this.#socket = socket;
    this.#call = call;
    this.#o = options;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    const callEnded = new Promise<void>((resolve) => (this.#callEnded = resolve));
    this.#finished = Promise.all([this.#closed, callEnded]).then(() => {});
  }

  /** Resolves once the socket is closed, with the code (and the error, if the stream failed). */
  get closed(): Promise<WsSessionEnd> {
    return this.#closed;
  }

  start(): void {
    const ws = this.#ws;
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('close', (code) => this.#onClose(code));
    // ws closes the connection itself after these (1009 over maxPayload, 1007 bad UTF-8,
    // 1002 protocol errors); what is left here is to stop the call.
    ws.on('error', (err: Error & { code?: string }) => this.#onSocketError(err));
    const every = this.#o.keepAliveMs;
    if (every > 0) {
      // Checked at half the interval: a quiet connection gets a ping within 1.5 × every.
      this.#keepAlive = setInterval(
        () => {
          if (Date.now() - this.#lastWrite < every || ws.readyState !== WebSocket.OPEN) return;
          this.#lastWrite = Date.now();
          ws.ping();
        },
        Math.max(1, Math.floor(every / 2)),
      );
      this.#keepAlive.unref();
    }
    void this.#pumpOutput();
  }

  /** The gateway is shutting down: cancel the call, tell the client (1001), close. */
  shutdown(): void {
    if (this.#sentCode === undefined && !this.#socketClosed) {
      this.#closeWithError(
        new UnavailableError('the gateway is shutting down: open the stream again', { retryable: true }),
        WS_CLOSE.goingAway,
      );
    }
    // Also a call in its half-close grace, whose socket is already gone.
    if (!this.#callOver) this.#call.cancel('the gateway is shutting down');
  }

  /** Resolves once the socket is closed and the call is over. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /** The last resort after shutdown's grace: drop the connection. */
  terminate(): void {
    this.#ws.terminate();
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.#inputOver || this.#endAfterQueue) return;
    const seq = this.#seq;
    if (isBinary) {
      this.#refuse(
        new InvalidArgumentError('binary messages are not accepted: send each item as one JSON text message', {
          details: { reason: 'binary_message', seq },
        }),
        WS_CLOSE.unsupportedData,
      );
      return;
    }
    let item: unknown;
    try {
      item = JSON.parse(textOf(data));
    } catch (err) {
      this.#refuse(
        new InvalidArgumentError(`message ${seq} is not valid JSON: ${(err as Error).message}`, {
          details: { reason: 'invalid_json', seq, direction: 'request' },
        }),
        WS_CLOSE.invalidPayload,
      );
      return;
    }
    if (this.#o.validate !== undefined) {
      try {
        this.#o.validate(item, seq);
      } catch (err) {
        this.#refuse(toSwitchyardError(err), undefined);
        return;
      }
    }
    this.#seq++;
    this.#queue.push(item);
    // Held until the call took it (credit): the client's further messages wait in TCP.
    this.#ws.pause();
    void this.#pumpInput();
  }

  async #pumpInput(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      while (this.#queue.length > 0 && !this.#inputOver) {
        await this.#call.send(this.#queue.shift());
      }
      if (this.#endAfterQueue && !this.#inputOver) {
        this.#inputOver = true;
        await this.#call.end();
      }
    } catch {
      // The call is over: its outcome reaches the output loop, which closes the socket.
      this.#inputOver = true;
      this.#queue.length = 0;
    } finally {
      this.#sending = false;
    }
    if (!this.#inputOver && !this.#endAfterQueue) this.#ws.resume();
  }

  async #pumpOutput(): Promise<void> {
    const ws = this.#ws;
    let error: unknown;
    try {
      for (;;) {
        const r = await this.#call.next();
        if (r.done) break;
        // Half-closed by the client, or closing: nobody reads these any more.
        if (this.#socketClosed || this.#sentCode !== undefined || ws.readyState !== WebSocket.OPEN) continue;
        ws.send(JSON.stringify(r.value ?? null));
        this.#lastWrite = Date.now();
        if (ws.bufferedAmount > this.#o.highWaterBytes) await this.#drained();
      }
    } catch (err) {
      error = err;
    }
    this.#callOver = true;
    this.#inputOver = true;
    clearTimeout(this.#graceTimer);
    this.#callEnded();
    if (error === undefined) this.#closeSocket(WS_CLOSE.normal, 'end');
    else this.#closeWithError(error, undefined);
  }

  /** An item the gateway itself refuses: the client is told why, then the call is cancelled. */
  #refuse(err: SwitchyardError, code: number | undefined): void {
    this.#inputOver = true;
    this.#queue.length = 0;
    this.#closeWithError(err, code);
    this.#call.cancel(err.message);
  }

  #closeWithError(thrown: unknown, code: number | undefined): void {
    if (this.#sentCode !== undefined) return;
    const err = toSwitchyardError(thrown);
    this.#error = err;
    if (this.#ws.readyState === WebSocket.OPEN) {
      const body: HttpErrorBody = { ...err.toJSON(), requestId: this.#o.requestId };
      this.#ws.send(JSON.stringify({ error: body }));
    }
    this.#closeSocket(code ?? wsCloseCodeOf(err.code), wsCloseReason(err.code));
  }

  #closeSocket(code: number, reason: string): void {
    if (this.#sentCode !== undefined || this.#socketClosed) return;
    this.#sentCode = code;
    this.#inputOver = true;
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close(code, reason);
    }
    // A socket paused for credit must be read again, or the client's answering close frame
    // waits behind its unread messages until ws gives up (30 s); those messages are ignored.
    this.#ws.resume();
  }

  #onSocketError(err: Error & { code?: string }): void {
    if (this.#sentCode === undefined) {
      this.#sentCode = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? WS_CLOSE.tooBig : undefined;
    }
    this.#inputOver = true;
    this.#queue.length = 0;
    if (!this.#callOver) this.#call.cancel(`the WebSocket failed: ${err.message}`);
  }

  #onClose(received: number): void {
    this.#socketClosed = true;
    clearInterval(this.#keepAlive);
    if (!this.#callOver && this.#sentCode === undefined) {
      if (received === 1006) {
        this.#call.cancel('the WebSocket connection dropped');
      } else {
        // A clean close is the client's half-close: the service sees its input end and may
        // finish; what it still sends is dropped, and it is cancelled after the grace.
        this.#endAfterQueue = true;
        void this.#pumpInput();
        this.#graceTimer = setTimeout(
          () => this.#call.cancel('the WebSocket client closed and the stream did not end in time'),
          this.#o.halfCloseGraceMs,
        );
        this.#graceTimer.unref();
      }
    }
    this.#resolveClosed({ code: this.#sentCode ?? received, error: this.#error });
  }

  /** Resolves when the socket's write buffer drained, or the socket closed. */
  #drained(): Promise<void> {
    const socket = this.#socket;
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }
}

function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
