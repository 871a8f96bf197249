import { randomUUID } from 'node:crypto';
import amqplib, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { type BidiCount, bidiItem, DOWNLOAD_METHOD, UPLOAD_METHOD } from './bidi-items.js';
import { DIRECT_REPLY_TO, rpcExchange } from './rpc-topology.js';

const EMPTY = Buffer.alloc(0);
const HEARTBEAT_MS = 10_000;

/** One open stream: what the message callback needs to drive it. */
interface Flow {
  readonly id: string;
  readonly batch: number;
  /** The server's reply address, from its `open`. */
  peer: string | undefined;
  /** Items we may still send (the open's `x-credit`, then every `credit`). */
  credit: number;
  sendSeq: number;
  recvSeq: number;
  unCredited: number;
  /** Called on open and on every credit: send what the credit allows. */
  pump(): void;
  onItem(value: unknown): void;
  onEnd(): void;
  reject(err: Error): void;
}

/**
 * The baseline bidi caller: amqplib and protocol §9 with nothing on top. One channel
 * publishes the request, consumes its own direct reply-to (where `open`, the server's
 * items, credit and end arrive) and publishes our items, credit and end to the server's
 * address from `open`, so each direction stays in order. Items go out in the message
 * callback while the server's credit lasts (no promise per item, no queue); the server's
 * items are JSON-decoded and `x-seq`-checked, and credit goes back after every window / 2.
 * No validation, no timers: the streams here are never idle, so §9's pings never fall due.
 */
export class RawBidiCaller {
  private conn: ChannelModel | undefined;
  private ch: Channel | undefined;
  private readonly flows = new Map<string, Flow>();

  constructor(
    private readonly url: string,
    private readonly namespace: string,
  ) {}

  async start(): Promise<void> {
    this.conn = await amqplib.connect(this.url, { noDelay: true });
    this.ch = await this.conn.createChannel();
    this.ch.on('return', (msg: ConsumeMessage) => {
      const f = this.flows.get(msg.properties.correlationId);
      this.flows.delete(msg.properties.correlationId);
      f?.reject(new Error('unroutable: no server'));
    });
    await this.ch.consume(DIRECT_REPLY_TO, (msg) => this.onMessage(msg), { noAck: true });
  }

  /** Send `count` items (each as the credit allows), then end; resolves with the count the server answered. */
  upload(service: string, count: number, window: number): Promise<number> {
    return new Promise((resolve, reject) => {
      let answer: BidiCount | undefined;
      let ended = false;
      const f = this.open(service, UPLOAD_METHOD, window, {
        pump: () => {
          while (f.credit > 0 && f.sendSeq < count) this.sendItem(f, Buffer.from(JSON.stringify(bidiItem(f.sendSeq))));
          if (f.sendSeq === count && !ended) {
            ended = true;
            this.send(f, EMPTY, { 'x-status': 'end' });
          }
        },
        onItem: (value) => {
          answer = value as BidiCount;
        },
        onEnd: () => (answer ? resolve(answer.count) : reject(new Error('upload ended without an answer'))),
        reject,
      });
    });
  }

  /** Ask for `count` items and consume them; resolves with the number seen. */
  download(service: string, count: number, window: number): Promise<number> {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const f = this.open(service, DOWNLOAD_METHOD, window, {
        pump: () => {
          if (f.sendSeq > 0) return;
          this.sendItem(f, Buffer.from(JSON.stringify({ count } satisfies BidiCount)));
          this.send(f, EMPTY, { 'x-status': 'end' });
        },
        onItem: () => {
          seen++;
        },
        onEnd: () => resolve(seen),
        reject,
      });
    });
  }

  private open(
    service: string,
    method: string,
    window: number,
    handlers: Pick<Flow, 'pump' | 'onItem' | 'onEnd' | 'reject'>,
  ): Flow {
    const id = randomUUID();
    const f: Flow = {
      id,
      batch: Math.max(1, Math.floor(window / 2)),
      peer: undefined,
      credit: 0,
      sendSeq: 0,
      recvSeq: 0,
      unCredited: 0,
      ...handlers,
    };
    this.flows.set(id, f);
    this.ch!.publish(rpcExchange(this.namespace), service, EMPTY, {
      mandatory: true,
      replyTo: DIRECT_REPLY_TO,
      correlationId: id,
      contentType: 'application/json',
      expiration: String(HEARTBEAT_MS),
      headers: {
        'x-method': method,
        'x-stream-kind': 'bidi',
        'x-stream-version': '1',
        'x-stream-window': String(window),
        'x-heartbeat': String(HEARTBEAT_MS),
      },
    });
    return f;
  }

  private send(f: Flow, body: Buffer, headers: Record<string, string>, contentType?: string): void {
    this.ch!.publish('', f.peer!, body, { correlationId: f.id, replyTo: DIRECT_REPLY_TO, contentType, headers });
  }

  private sendItem(f: Flow, body: Buffer): void {
    this.send(f, body, { 'x-status': 'item', 'x-seq': String(f.sendSeq++) }, 'application/json');
    f.credit--;
  }

  private onMessage(msg: ConsumeMessage | null): void {
    if (!msg) return;
    const f = this.flows.get(msg.properties.correlationId as string);
    if (!f) return;
    const h = msg.properties.headers ?? {};
    const control = h['x-control'];
    if (control !== undefined) {
      if (control === 'credit') {
        f.credit += Number(h['x-credit']);
        f.pump();
      }
      return; // ping: nothing to do, we keep no lost-peer timer
    }
    switch (h['x-status']) {
      case 'item': {
        if (Number(h['x-seq']) !== f.recvSeq++) {
          this.fail(f, new Error('stream interrupted: items lost'));
          return;
        }
        f.onItem(JSON.parse(msg.content.toString()));
        if (++f.unCredited >= f.batch) {
          this.send(f, EMPTY, { 'x-control': 'credit', 'x-credit': String(f.unCredited) });
          f.unCredited = 0;
        }
        return;
      }
      case 'open':
        f.peer = msg.properties.replyTo as string;
        f.credit = Number(h['x-credit']);
        f.pump();
        return;
      case 'end':
        this.flows.delete(f.id);
        f.onEnd();
        return;
      default:
        this.flows.delete(f.id);
        f.reject(new Error(`stream failed: ${msg.content.toString()}`));
    }
  }

  private fail(f: Flow, err: Error): void {
    this.flows.delete(f.id);
    if (f.peer) this.send(f, EMPTY, { 'x-control': 'cancel' });
    f.reject(err);
  }

  async close(): Promise<void> {
    await this.conn?.close();
    this.conn = undefined;
  }
}
