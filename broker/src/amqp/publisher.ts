/**
 * Confirmed publishing that survives reconnects.
 *
 * Every publish stays in `unconfirmed` (bounded: BUFFER_FULL beyond it) until RabbitMQ
 * acks it. While the channel is down publishes queue up; when a channel dies, whatever
 * it had not confirmed is sent again, in order, on the next one. So a resolved publish
 * was confirmed, and nothing confirmed is lost (it may arrive twice: subscribers
 * de-duplicate by message id).
 *
 * Confirms are matched through the channel's `ack`/`nack` events and our own sequence
 * numbers rather than a callback per message. With `mandatory`, RabbitMQ sends
 * `basic.return` before the ack of the same message, so a return marks its message id
 * and the ack that follows rejects UNROUTABLE.
 */
import type { ChannelModel, ConfirmChannel, Message, Options } from 'amqplib';
import { BufferFullError, ClosedError, InvalidArgumentError, UnavailableError, UnroutableError } from '../errors.js';
import type { ChannelOwner, RecoveringConnection } from './connection.js';
import type { TransportLogger } from './options.js';

interface Entry {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly props: Options.Publish;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly expiresAt: number;
  done: boolean;
  /** Times a channel closed (the connection staying up) while this entry was in flight. */
  channelFailures: number;
}

export interface PublisherOptions {
  bufferSize: number;
  timeoutMs: number;
  logger: TransportLogger;
}

/** A message in flight on this many channels that RabbitMQ closed with an error is given up. */
const MAX_CHANNEL_FAILURES = 3;
const REOPEN_DELAY_MS = 500;

export class ConfirmPublisher implements ChannelOwner {
  private ch: ConfirmChannel | undefined;
  /** Sequence number of the last publish on `ch` (RabbitMQ's delivery tag for its confirm). */
  private seq = 0;
  /** Lowest sequence number that may still be unconfirmed. */
  private lowest = 1;
  private readonly inFlight = new Map<number, Entry>();
  /** Insertion-ordered: the send order, and the expiry order. */
  private readonly unconfirmed = new Set<Entry>();
  private queue: Entry[] = [];
  private head = 0;
  private writable = true;
  /** Message ids RabbitMQ returned as unroutable, waiting for their ack. */
  private readonly returned = new Map<string, number>();
  private lastChannelError: Error | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private closedWith: Error | undefined;

  constructor(
    private readonly conn: RecoveringConnection,
    private readonly opts: PublisherOptions,
  ) {}

  /** Messages published and not yet confirmed (or failed). */
  get pending(): number {
    return this.unconfirmed.size;
  }

  async start(): Promise<void> {
    this.sweeper ??= setInterval(this.sweep, Math.max(10, Math.min(1000, this.opts.timeoutMs / 4)));
    this.sweeper.unref();
    await this.conn.add(this);
  }

  /** Resolves once RabbitMQ confirmed the message; rejects UNROUTABLE, BUFFER_FULL, UNAVAILABLE (timeout/nack). */
  publish(exchange: string, routingKey: string, content: Buffer, props: Options.Publish): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (this.unconfirmed.size >= this.opts.bufferSize)
      return Promise.reject(
        new BufferFullError(`${this.unconfirmed.size} publishes are waiting for RabbitMQ (publishBufferSize)`, {
          details: { publishBufferSize: this.opts.bufferSize },
        }),
      );
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = {
        exchange,
        routingKey,
        content,
        props,
        resolve,
        reject,
        expiresAt: Date.now() + this.opts.timeoutMs,
        done: false,
        channelFailures: 0,
      };
      this.unconfirmed.add(entry);
      if (this.ch && this.writable && this.head === this.queue.length) this.send(this.ch, entry);
      else this.queue.push(entry);
    });
  }

  async attach(model: ChannelModel): Promise<void> {
    if (this.closedWith) return;
    const ch = await model.createConfirmChannel();
    ch.on('ack', (f: { deliveryTag: number; multiple: boolean }) => {
      if (this.ch === ch) this.onConfirm(f.deliveryTag, f.multiple, true);
    });
    ch.on('nack', (f: { deliveryTag: number; multiple: boolean }) => {
      if (this.ch === ch) this.onConfirm(f.deliveryTag, f.multiple, false);
    });
    ch.on('return', (msg: Message) => {
      if (this.ch !== ch) return;
      const id = msg.properties.messageId as string | undefined;
      if (id !== undefined) this.returned.set(id, (this.returned.get(id) ?? 0) + 1);
    });
    ch.on('drain', () => {
      if (this.ch !== ch) return;
      this.writable = true;
      this.flush();
    });
    ch.on('error', (err: Error) => {
      this.lastChannelError = err;
      this.opts.logger.warn({ err }, 'publish channel error');
    });
    ch.on('close', () => this.onChannelClose(ch, model));
    this.ch = ch;
    this.seq = 0;
    this.lowest = 1;
    this.writable = true;
    this.flush();
  }

  private send(ch: ConfirmChannel, entry: Entry): void {
    const seq = ++this.seq;
    this.inFlight.set(seq, entry);
    let ok: boolean;
    try {
      ok = ch.publish(entry.exchange, entry.routingKey, entry.content, entry.props);
    } catch (err) {
      // Nothing went out: the channel is closing (the entry waits for the next one), or
      // the message cannot be encoded (it never will be).
      this.seq--;
      this.inFlight.delete(seq);
      if (err instanceof RangeError || err instanceof TypeError) {
        this.settle(entry, new InvalidArgumentError(`message cannot be encoded: ${err.message}`));
      } else {
        this.queue.push(entry);
      }
      return;
    }
    if (!ok) this.writable = false;
  }

  private flush(): void {
    const ch = this.ch;
    while (ch && this.ch === ch && this.writable && this.head < this.queue.length) {
      const entry = this.queue[this.head++]!;
      if (!entry.done) this.send(ch, entry);
    }
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
  }

  private onConfirm(tag: number, multiple: boolean, ok: boolean): void {
    if (multiple) {
      for (let s = this.lowest; s <= tag; s++) this.confirmOne(s, ok);
    } else {
      this.confirmOne(tag, ok);
    }
    while (this.lowest <= this.seq && !this.inFlight.has(this.lowest)) this.lowest++;
  }

  private confirmOne(seq: number, ok: boolean): void {
    const entry = this.inFlight.get(seq);
    if (!entry) return;
    this.inFlight.delete(seq);
    if (entry.done) return;
    if (!ok) {
      this.settle(entry, new UnavailableError('RabbitMQ refused the message (nack)'));
      return;
    }
    const id = entry.props.messageId;
    if (this.returned.size > 0 && id !== undefined) {
      const n = this.returned.get(id);
      if (n !== undefined) {
        if (n <= 1) this.returned.delete(id);
        else this.returned.set(id, n - 1);
        this.settle(
          entry,
          new UnroutableError(`no queue is bound for "${entry.routingKey}" on "${entry.exchange || '(default)'}"`, {
            details: { exchange: entry.exchange, routingKey: entry.routingKey },
          }),
        );
        return;
      }
    }
    this.settle(entry, undefined);
  }

  private settle(entry: Entry, err: Error | undefined): void {
    if (entry.done) return;
    entry.done = true;
    this.unconfirmed.delete(entry);
    if (err) entry.reject(err);
    else entry.resolve();
    if (this.unconfirmed.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private onChannelClose(ch: ConfirmChannel, model: ChannelModel): void {
    if (this.ch !== ch) return;
    this.ch = undefined;
    const connectionUp = this.conn.isCurrent(model);
    const channelError = this.lastChannelError;
    this.lastChannelError = undefined;
    if (connectionUp) {
      for (const entry of this.inFlight.values()) {
        entry.channelFailures++;
        if (entry.channelFailures >= MAX_CHANNEL_FAILURES)
          this.settle(
            entry,
            new UnavailableError(`RabbitMQ keeps closing the publishing channel: ${channelError?.message ?? 'closed'}`),
          );
      }
    }
    this.inFlight.clear();
    this.returned.clear();
    // Everything not confirmed goes out again on the next channel, in the original order.
    this.queue = [];
    this.head = 0;
    for (const entry of this.unconfirmed) this.queue.push(entry);
    if (this.unconfirmed.size > 0)
      this.opts.logger.warn({ unconfirmed: this.unconfirmed.size }, 'publish channel lost; will re-send');
    // A dropped connection is re-attached by its recovery; a channel closed on its own is ours to reopen.
    if (connectionUp && !this.closedWith) {
      clearTimeout(this.reopenTimer);
      this.reopenTimer = setTimeout(() => {
        if (this.ch || this.closedWith || !this.conn.isCurrent(model)) return;
        this.attach(model).catch((err: Error) => this.opts.logger.warn({ err }, 'cannot reopen the publish channel'));
      }, REOPEN_DELAY_MS);
      this.reopenTimer.unref();
    }
  }

  private readonly sweep = (): void => {
    if (this.unconfirmed.size === 0) return;
    const now = Date.now();
    for (const entry of this.unconfirmed) {
      if (entry.expiresAt > now) break;
      this.settle(
        entry,
        new UnavailableError(`RabbitMQ did not confirm the message within ${this.opts.timeoutMs} ms`, {
          details: { publishTimeoutMs: this.opts.timeoutMs },
        }),
      );
    }
  };

  /** Resolves when every publish so far is confirmed or failed. */
  whenIdle(): Promise<void> {
    if (this.unconfirmed.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Fail what is still waiting and close the channel. Idempotent. */
  async close(reason: Error = new ClosedError('transport closed')): Promise<void> {
    if (this.closedWith) return;
    this.closedWith = reason;
    this.conn.remove(this);
    clearInterval(this.sweeper);
    clearTimeout(this.reopenTimer);
    for (const entry of [...this.unconfirmed]) this.settle(entry, reason);
    const ch = this.ch;
    this.ch = undefined;
    await ch?.close().catch(() => {});
  }
}
