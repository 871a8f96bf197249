/**
 * The live notifications feed behind the bidi method `notifications.feed`: every event
 * this instance receives goes to every open feed; each feed passes what its latest filter
 * lets through. The subscriber changes its filter at any time by sending a new one.
 *
 * Each feed holds at most `capacity` notifications for a subscriber who reads slowly (the
 * stream's credit holds the feed back, the events keep coming): past that the oldest are
 * dropped and the subscriber is told how many, so a slow reader costs bounded memory.
 */
import { compileTopicPattern, type TopicMatcher } from '@switchyard/broker';
import { newId } from './ids.js';

export interface FeedFilter {
  topics?: string[];
  customerId?: string;
  minAmount?: number;
}

interface Money {
  amount: number;
  currency: string;
}

export type FeedItem =
  | { type: 'filter'; filter: FeedFilter }
  | {
      type: 'notification';
      id: string;
      topic: string;
      orderId?: string;
      customerId?: string;
      total?: Money;
      at: string;
    }
  | { type: 'dropped'; count: number };

type Notification = Extract<FeedItem, { type: 'notification' }>;

const DEFAULT_CAPACITY = 100;

export class NotificationFeed {
  private readonly feeds = new Set<FeedQueue>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  /** An event this instance received: to every open feed. */
  publish(topic: string, payload: unknown): void {
    if (this.feeds.size === 0) return;
    const p = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
    const n: Notification = { type: 'notification', id: newId('ntf'), topic, at: new Date().toISOString() };
    if (typeof p.orderId === 'string') n.orderId = p.orderId;
    if (typeof p.customerId === 'string') n.customerId = p.customerId;
    if (isMoney(p.total)) n.total = p.total;
    for (const f of this.feeds) f.push(n);
  }

  /** One subscriber's feed: filters come in, notifications (and filter echoes) go out until the input ends. */
  async *open(input: AsyncIterable<unknown>): AsyncGenerator<FeedItem> {
    const queue = new FeedQueue(this.capacity);
    this.feeds.add(queue);
    const reading = (async () => {
      for await (const filter of input) queue.setFilter(filter as FeedFilter);
    })().then(
      () => queue.end(),
      (err: unknown) => queue.fail(err),
    );
    try {
      for (;;) {
        const item = await queue.next();
        if (item === undefined) return;
        yield item;
      }
    } finally {
      this.feeds.delete(queue);
      queue.end();
      await reading;
    }
  }
}

function isMoney(v: unknown): v is Money {
  const m = v as Partial<Money> | null;
  return typeof m === 'object' && m !== null && typeof m.amount === 'number' && typeof m.currency === 'string';
}

class FeedQueue {
  private items: FeedItem[] = [];
  private dropped = 0;
  private filter: FeedFilter = {};
  private topics: TopicMatcher[] | undefined;
  private ended = false;
  private error: unknown;
  private wake: (() => void) | undefined;

  constructor(private readonly capacity: number) {}

  setFilter(filter: FeedFilter): void {
    this.filter = filter;
    this.topics = filter.topics?.map((t) => compileTopicPattern(t));
    // The echo says from where on the new filter holds; it never counts against the capacity.
    this.items.push({ type: 'filter', filter });
    this.signal();
  }

  push(n: Notification): void {
    if (this.ended || !this.passes(n)) return;
    let held = 0;
    for (const i of this.items) if (i.type === 'notification') held++;
    if (held >= this.capacity) {
      const oldest = this.items.findIndex((i) => i.type === 'notification');
      this.items.splice(oldest, 1);
      this.dropped++;
    }
    this.items.push(n);
    this.signal();
  }

  end(): void {
    this.ended = true;
    this.signal();
  }

  fail(err: unknown): void {
    this.error = err;
    this.end();
  }

  /** The next item; undefined once the input ended and everything was handed out. */
  async next(): Promise<FeedItem | undefined> {
    for (;;) {
      if (this.dropped > 0) {
        const count = this.dropped;
        this.dropped = 0;
        return { type: 'dropped', count };
      }
      const item = this.items.shift();
      if (item) return item;
      if (this.error !== undefined) throw this.error;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private passes(n: Notification): boolean {
    const f = this.filter;
    if (this.topics && !this.topics.some((m) => m(n.topic))) return false;
    if (f.customerId !== undefined && n.customerId !== f.customerId) return false;
    if (f.minAmount !== undefined && (n.total === undefined || n.total.amount < f.minAmount)) return false;
    return true;
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
