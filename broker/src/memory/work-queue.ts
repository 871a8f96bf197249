/**
 * A queue with competing consumers, as RabbitMQ runs one: messages wait in order, each
 * goes to one consumer, consumers take turns (round-robin), and a consumer holds at most
 * `prefetch` unsettled messages. Settling (ack, or requeue at the head) frees a slot.
 */

export interface QueueConsumer<M> {
  readonly prefetch: number;
  deliver(delivery: Delivery<M>): void;
}

export interface Delivery<M> {
  readonly message: M;
  /** True once acked or requeued. */
  readonly settled: boolean;
  /** Done with the message: it leaves the queue. Idempotent. */
  ack(): void;
  /** Give the message back at the head of the queue (as `replacement` when given). */
  requeue(replacement?: M): void;
}

export interface WorkQueueOptions<M> {
  /** Messages for which this returns true are dropped when their turn comes (e.g. expired requests). */
  isExpired?: (message: M) => boolean;
}

interface ConsumerSlot<M> {
  readonly consumer: QueueConsumer<M>;
  unacked: number;
}

export class WorkQueue<M> {
  private ready: M[] = [];
  private head = 0;
  private slots: ConsumerSlot<M>[] = [];
  private cursor = 0;
  private scheduled = false;

  constructor(private readonly options: WorkQueueOptions<M> = {}) {}

  get depth(): number {
    return this.ready.length - this.head;
  }

  get consumerCount(): number {
    return this.slots.length;
  }

  get unacked(): number {
    return this.slots.reduce((n, s) => n + s.unacked, 0);
  }

  enqueue(message: M): void {
    this.ready.push(message);
    this.schedule();
  }

  addConsumer(consumer: QueueConsumer<M>): void {
    if (this.slots.some((s) => s.consumer === consumer)) return;
    this.slots.push({ consumer, unacked: 0 });
    this.schedule();
  }

  /** The consumer gets nothing more; its unsettled deliveries may still be settled. */
  removeConsumer(consumer: QueueConsumer<M>): void {
    const index = this.slots.findIndex((s) => s.consumer === consumer);
    if (index < 0) return;
    this.slots.splice(index, 1);
    if (this.cursor > index) this.cursor--;
  }

  /** Take every waiting message out of the queue (auto-delete, purge). */
  takeAll(): M[] {
    const all = this.ready.slice(this.head);
    this.ready = [];
    this.head = 0;
    return all;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Deliver asynchronously, like a network hop: never re-enter a publisher's or a handler's stack.
    queueMicrotask(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.head < this.ready.length) {
      const slot = this.nextSlotWithRoom();
      if (!slot) return;
      const message = this.ready[this.head]!;
      this.ready[this.head] = undefined as M; // let it be collected
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.ready.length) {
        this.ready = this.ready.slice(this.head);
        this.head = 0;
      }
      if (this.options.isExpired?.(message)) continue;
      slot.unacked++;
      slot.consumer.deliver(this.delivery(slot, message));
    }
  }

  private nextSlotWithRoom(): ConsumerSlot<M> | undefined {
    for (let i = 0; i < this.slots.length; i++) {
      const index = (this.cursor + i) % this.slots.length;
      const slot = this.slots[index]!;
      if (slot.unacked < slot.consumer.prefetch) {
        this.cursor = (index + 1) % this.slots.length;
        return slot;
      }
    }
    return undefined;
  }

  private delivery(slot: ConsumerSlot<M>, message: M): Delivery<M> {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      slot.unacked--;
      return true;
    };
    return {
      message,
      get settled() {
        return settled;
      },
      ack: () => {
        if (settle()) this.schedule();
      },
      requeue: (replacement?: M) => {
        if (!settle()) return;
        if (this.head > 0) this.ready[--this.head] = replacement ?? message;
        else this.ready.unshift(replacement ?? message);
        this.schedule();
      },
    };
  }
}
