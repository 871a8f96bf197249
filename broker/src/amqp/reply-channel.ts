/**
 * Where servers send replies from: one channel on the publishing connection, shared by
 * every server of the transport. It also consumes its own direct reply-to address, the
 * `reply_to` of stream messages, so callers' `credit` / `cancel` control messages come
 * back here and are routed to the stream by correlation id (docs/protocol.md §5).
 *
 * A unary reply made while this channel is down (the publishing connection is
 * reconnecting, the consuming one is already back and delivering requests) is held and
 * sent once the channel is back, until the request's deadline: the caller's reply address
 * lives on the caller's own channel, which may be fine, and dropping the reply would leave
 * it waiting out its deadline for a call that succeeded.
 */
import type { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import type { ChannelOwner, RecoveringConnection } from './connection.js';
import { CONTROL, H, headerInt, headerString } from './headers.js';
import type { TransportLogger } from './options.js';
import { DIRECT_REPLY_TO } from './topology.js';

/** A server-side stream, as the reply channel sees it. */
export interface ControlTarget {
  addCredit(n: number): void;
  /** The caller cancelled, or the channel carrying the stream died. */
  cancel(): void;
  /** Bidi streams (§9) take every message of the caller themselves: items, end, credit, ping, cancel. */
  onMessage?(msg: ConsumeMessage): void;
}

const REOPEN_DELAY_MS = 500;
/** How long a reply to a request without a deadline is held for the channel. */
export const REPLY_HOLD_MS = 30_000;
/** Replies held at most; beyond, a reply is dropped (its caller gets DEADLINE_EXCEEDED). */
export const MAX_HELD_REPLIES = 10_000;

interface HeldReply {
  readonly replyTo: string;
  readonly body: Buffer;
  readonly props: Options.Publish;
  readonly until: number;
}

export class ReplyChannel implements ChannelOwner {
  private ch: Channel | undefined;
  private readonly streams = new Map<string, ControlTarget>();
  private closed = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private held: HeldReply[] = [];

  constructor(
    private readonly conn: RecoveringConnection,
    private readonly logger: TransportLogger,
  ) {}

  start(): Promise<void> {
    return this.conn.add(this);
  }

  async attach(model: ChannelModel): Promise<void> {
    if (this.closed) return;
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.logger.warn({ err }, 'reply channel error'));
    ch.on('close', () => this.onChannelClose(ch, model));
    await ch.consume(DIRECT_REPLY_TO, this.onControl, { noAck: true });
    this.ch = ch;
    if (this.held.length > 0) this.sendHeld();
  }

  private sendHeld(): void {
    const held = this.held;
    this.held = [];
    const now = Date.now();
    let sent = 0;
    for (const h of held) {
      if (h.until <= now) continue; // the caller has given up
      if (this.send(h.replyTo, h.body, h.props)) sent++;
      else this.held.push(h);
    }
    this.logger.info({ sent, expired: held.length - sent - this.held.length }, 'replies held while disconnected sent');
  }

  private onChannelClose(ch: Channel, model: ChannelModel): void {
    if (this.ch !== ch) return;
    this.ch = undefined;
    // Control messages for running streams can no longer reach us.
    for (const s of [...this.streams.values()]) s.cancel();
    this.streams.clear();
    if (!this.closed && this.conn.isCurrent(model)) {
      clearTimeout(this.reopenTimer);
      this.reopenTimer = setTimeout(() => {
        if (this.ch || this.closed || !this.conn.isCurrent(model)) return;
        this.attach(model).catch((err: Error) => this.logger.warn({ err }, 'cannot reopen the reply channel'));
      }, REOPEN_DELAY_MS);
      this.reopenTimer.unref();
    }
  }

  private readonly onControl = (msg: ConsumeMessage | null): void => {
    if (!msg) return;
    const target = this.streams.get(msg.properties.correlationId as string);
    if (!target) return;
    if (target.onMessage) {
      target.onMessage(msg);
      return;
    }
    const raw = msg.properties.headers as Record<string, unknown> | undefined;
    const control = headerString(raw, H.control);
    if (control === CONTROL.credit) {
      const n = headerInt(raw, H.credit);
      if (n !== undefined && n > 0) target.addCredit(n);
    } else if (control === CONTROL.cancel) {
      target.cancel();
    }
  };

  get ready(): boolean {
    return this.ch !== undefined;
  }

  /**
   * Register a stream for control messages; false when the channel is down (nothing
   * could reach the stream).
   */
  register(correlationId: string, target: ControlTarget): boolean {
    if (!this.ch) return false;
    this.streams.set(correlationId, target);
    return true;
  }

  unregister(correlationId: string, target: ControlTarget): void {
    if (this.streams.get(correlationId) === target) this.streams.delete(correlationId);
  }

  /**
   * A unary reply: sent now, or held until the channel is back (at most until `until`,
   * ms since the epoch). False when it was dropped (the hold is full).
   */
  reply(replyTo: string, body: Buffer, props: Options.Publish, until: number): boolean {
    if (this.send(replyTo, body, props)) return true;
    if (this.closed || this.held.length >= MAX_HELD_REPLIES) return false;
    this.held.push({ replyTo, body, props, until });
    return true;
  }

  /** Publish to a caller's reply address; false when it could not be sent. */
  send(replyTo: string, body: Buffer, props: Options.Publish): boolean {
    const ch = this.ch;
    if (!ch) return false;
    try {
      ch.publish('', replyTo, body, props);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.conn.remove(this);
    clearTimeout(this.reopenTimer);
    for (const s of [...this.streams.values()]) s.cancel();
    this.streams.clear();
    this.held = [];
    const ch = this.ch;
    this.ch = undefined;
    await ch?.close().catch(() => {});
  }
}
