/**
 * A channel with one manual-ack consumer that comes back after a connection or channel
 * loss, and counts the messages being handled so `close()` can drain them.
 *
 * Each incarnation of the channel is a `ChannelSlot`. A delivery keeps the slot it came
 * from and is acked there, never on a newer channel: delivery tags belong to a channel,
 * and acking an unknown tag closes the channel with 406 PRECONDITION_FAILED. A delivery
 * whose channel died is simply not acked; RabbitMQ has requeued it already.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { ChannelOwner, RecoveringConnection } from './connection.js';
import type { TransportLogger } from './options.js';

export class ChannelSlot {
  alive = true;
  consumerTag: string | undefined;

  constructor(readonly channel: Channel) {}

  ack(msg: ConsumeMessage): void {
    if (!this.alive) return;
    try {
      this.channel.ack(msg);
    } catch {
      // closed under us: the broker requeues the message
    }
  }

  /** `requeue: false` dead-letters through the queue's x-dead-letter-exchange. */
  nack(msg: ConsumeMessage, requeue: boolean): void {
    if (!this.alive) return;
    try {
      this.channel.nack(msg, false, requeue);
    } catch {
      // closed under us: the broker requeues the message
    }
  }
}

export interface ConsumerSpec {
  /** For logs: `subscription orders.created/billing`, `server inventory`. */
  readonly label: string;
  readonly prefetch: number;
  /** Declare what the consumer needs; returns the queue to consume. */
  declare(ch: Channel): Promise<string>;
  /** A delivery. Pass its async work to `channel.track()` so close() can drain it. */
  onMessage(msg: ConsumeMessage, slot: ChannelSlot): void;
}

/** Delay before re-opening a channel that RabbitMQ closed while the connection stayed up. */
const REATTACH_DELAY_MS = 1000;

export class ConsumerChannel implements ChannelOwner {
  private slot: ChannelSlot | undefined;
  private stopped = false;
  private inFlight = 0;
  private idle: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly conn: RecoveringConnection,
    private readonly spec: ConsumerSpec,
    private readonly logger: TransportLogger,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Register with the connection and start consuming; declaration errors reach the caller. */
  open(): Promise<void> {
    return this.conn.add(this);
  }

  async attach(model: ChannelModel): Promise<void> {
    if (this.stopped) return;
    const ch = await model.createChannel();
    const slot = new ChannelSlot(ch);
    ch.on('error', (err: Error) => this.logger.warn({ err, consumer: this.spec.label }, 'consumer channel error'));
    ch.on('close', () => this.onChannelClose(slot, model));
    try {
      const queue = await this.spec.declare(ch);
      await ch.prefetch(this.spec.prefetch);
      const onMessage = (msg: ConsumeMessage | null) => {
        if (msg) this.spec.onMessage(msg, slot);
        else this.onServerCancel(slot, model);
      };
      const { consumerTag } = await ch.consume(queue, onMessage, { noAck: false });
      slot.consumerTag = consumerTag;
    } catch (err) {
      slot.alive = false;
      await ch.close().catch(() => {});
      throw err;
    }
    if (this.stopped) {
      slot.alive = false;
      await ch.close().catch(() => {});
      return;
    }
    this.slot = slot;
  }

  private onChannelClose(slot: ChannelSlot, model: ChannelModel): void {
    slot.alive = false;
    if (this.slot === slot) this.slot = undefined;
    // A dropped connection closes its channels first; its recovery re-attaches us. A
    // channel closed on its own (queue deleted, 406, ...) is ours to re-open.
    this.scheduleReattach(model);
  }

  /** RabbitMQ cancelled the consumer (its queue was deleted): declare again and resume. */
  private onServerCancel(slot: ChannelSlot, model: ChannelModel): void {
    this.logger.warn({ consumer: this.spec.label }, 'RabbitMQ cancelled the consumer; re-declaring');
    slot.channel.close().catch(() => {});
    this.onChannelClose(slot, model);
  }

  private scheduleReattach(model: ChannelModel): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stopped || this.slot || !this.conn.isCurrent(model)) return;
      this.attach(model).catch((err: Error) => {
        this.onError(err);
        this.scheduleReattach(model);
      });
    }, REATTACH_DELAY_MS);
    this.retryTimer.unref();
  }

  /** Count `work` as in flight (close() drains it) until it settles; a rejection goes to onError. */
  track(work: Promise<void>): void {
    this.inFlight++;
    work.then(this.settled, this.failed);
  }

  // Bound once, not per message: tracking is on the hot path of every delivery.
  private readonly settled = (): void => {
    this.inFlight--;
    if (this.inFlight === 0 && this.idle) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  };

  private readonly failed = (err: unknown): void => {
    this.settled();
    this.onError(err as Error);
  };

  /** Stop taking messages; the ones being handled carry on. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.conn.remove(this);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const slot = this.slot;
    if (slot?.alive && slot.consumerTag) {
      try {
        await slot.channel.cancel(slot.consumerTag);
      } catch {
        // channel gone: nothing more will arrive on it anyway
      }
    }
  }

  /** Resolves when no message is being handled. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.idle;
      this.idle = () => {
        prev?.();
        resolve();
      };
    });
  }

  /**
   * stop(), wait for handlers (at most `drainTimeoutMs`), close the channel. Messages
   * still unacked then are requeued by RabbitMQ; their late acks are dropped. Idempotent.
   */
  async close(drainTimeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    await this.stop();
    if (Number.isFinite(drainTimeoutMs)) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.drained().then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), drainTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.logger.warn(
          { consumer: this.spec.label, inFlight: this.inFlight, drainTimeoutMs },
          'handlers still running at the drain timeout: closing anyway, RabbitMQ requeues their messages',
        );
      }
    } else {
      await this.drained();
    }
    const slot = this.slot;
    this.slot = undefined;
    if (slot?.alive) {
      slot.alive = false;
      await slot.channel.close().catch(() => {});
    }
  }
}
