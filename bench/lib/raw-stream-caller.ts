import { randomUUID } from 'node:crypto';
import amqplib, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { DIRECT_REPLY_TO, RPC_TIMEOUT_MS, rpcExchange } from './rpc-topology.js';

const EMPTY = Buffer.alloc(0);

interface Pending {
  creditBatch: number;
  items: number;
  unCredited: number;
  resolve: (items: number) => void;
  reject: (err: Error) => void;
}

/**
 * The baseline stream consumer: amqplib and protocol §5 with nothing on top — direct
 * reply-to, JSON decode of every item, a `credit` control message after every
 * window / 2 items, as Switchyard's caller sends them. Callbacks, no iterator, no
 * validation, no timers: the ceiling of a hand-written client.
 */
export class RawStreamCaller {
  private conn: ChannelModel | undefined;
  private ch: Channel | undefined;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly url: string,
    private readonly namespace: string,
  ) {}

  async start(): Promise<void> {
    this.conn = await amqplib.connect(this.url, { noDelay: true });
    this.ch = await this.conn.createChannel();
    this.ch.on('return', (msg: ConsumeMessage) => {
      const p = this.pending.get(msg.properties.correlationId);
      this.pending.delete(msg.properties.correlationId);
      p?.reject(new Error('unroutable: no server'));
    });
    await this.ch.consume(DIRECT_REPLY_TO, (msg) => this.onMessage(msg), { noAck: true });
  }

  /** Consume one stream of `count` items; resolves with the number of items seen. */
  stream(service: string, method: string, count: number, window: number): Promise<number> {
    const id = randomUUID();
    const creditBatch = Math.max(1, Math.floor(window / 2));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { creditBatch, items: 0, unCredited: 0, resolve, reject });
      this.ch!.publish(rpcExchange(this.namespace), service, Buffer.from(JSON.stringify({ count })), {
        mandatory: true,
        replyTo: DIRECT_REPLY_TO,
        correlationId: id,
        contentType: 'application/json',
        expiration: String(RPC_TIMEOUT_MS),
        headers: {
          'x-method': method,
          'x-deadline': String(Date.now() + RPC_TIMEOUT_MS),
          'x-stream-window': String(window),
        },
      });
    });
  }

  private onMessage(msg: ConsumeMessage | null): void {
    if (!msg) return;
    const id = msg.properties.correlationId as string;
    const p = this.pending.get(id);
    if (!p) return;
    const status = msg.properties.headers?.['x-status'];
    if (status === 'item') {
      JSON.parse(msg.content.toString());
      p.items++;
      if (++p.unCredited >= p.creditBatch) {
        this.ch!.publish('', msg.properties.replyTo, EMPTY, {
          correlationId: id,
          headers: { 'x-control': 'credit', 'x-credit': String(p.unCredited) },
        });
        p.unCredited = 0;
      }
    } else if (status === 'end') {
      this.pending.delete(id);
      p.resolve(p.items);
    } else {
      this.pending.delete(id);
      p.reject(new Error(`stream failed: ${msg.content.toString()}`));
    }
  }

  async close(): Promise<void> {
    await this.conn?.close();
    this.conn = undefined;
  }
}
