import { randomUUID } from 'node:crypto';
import amqplib, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { DIRECT_REPLY_TO, RPC_TIMEOUT_MS, rpcExchange } from './rpc-topology.js';

/**
 * The baseline caller: amqplib with nothing on top but what any hand-written RPC client
 * needs — direct reply-to, correlation ids, a deadline header, JSON both ways.
 * No validation, no timers per call, no error mapping.
 */
export class RawRpcCaller {
  private conn: ChannelModel | undefined;
  private ch: Channel | undefined;
  private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

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
    await this.ch.consume(DIRECT_REPLY_TO, (msg) => this.onReply(msg), { noAck: true });
  }

  call(service: string, method: string, payload: unknown): Promise<unknown> {
    const id = randomUUID();
    const deadline = Date.now() + RPC_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ch!.publish(rpcExchange(this.namespace), service, Buffer.from(JSON.stringify(payload)), {
        mandatory: true,
        replyTo: DIRECT_REPLY_TO,
        correlationId: id,
        contentType: 'application/json',
        expiration: String(RPC_TIMEOUT_MS),
        headers: { 'x-method': method, 'x-deadline': String(deadline) },
      });
    });
  }

  private onReply(msg: ConsumeMessage | null): void {
    if (!msg) return;
    const p = this.pending.get(msg.properties.correlationId);
    if (!p) return;
    this.pending.delete(msg.properties.correlationId);
    const body = JSON.parse(msg.content.toString());
    if (msg.properties.headers?.['x-status'] === 'ok') p.resolve(body);
    else p.reject(new Error(`remote error ${body.code}`));
  }

  async close(): Promise<void> {
    await this.conn?.close();
    this.conn = undefined;
  }
}
