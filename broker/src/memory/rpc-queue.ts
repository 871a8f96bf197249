/**
 * A service's request queue `<ns>.rpc.<service>`. Auto-delete, as on RabbitMQ: it exists
 * while at least one server consumes it, so a call with no server fails fast. Requests
 * whose deadline passed while they waited are dropped when their turn comes.
 */
import { UnavailableError } from '../errors.js';
import type { RpcRequest } from './messages.js';
import { errorReply } from './replies.js';
import { type QueueConsumer, WorkQueue } from './work-queue.js';

export class RpcQueue {
  readonly work = new WorkQueue<RpcRequest>({
    isExpired: (r) => r.deadline !== undefined && r.deadline <= Date.now(),
  });
  private deleted = false;

  constructor(
    readonly name: string,
    readonly service: string,
    private readonly onDelete: (queue: RpcQueue) => void,
  ) {}

  get isDeleted(): boolean {
    return this.deleted;
  }

  addConsumer(consumer: QueueConsumer<RpcRequest>): void {
    this.work.addConsumer(consumer);
  }

  /** Removing the last consumer deletes the queue; requests still waiting fail UNAVAILABLE. */
  removeConsumer(consumer: QueueConsumer<RpcRequest>): void {
    this.work.removeConsumer(consumer);
    if (this.work.consumerCount > 0 || this.deleted) return;
    this.deleted = true;
    this.onDelete(this);
    const orphans = this.work.takeAll();
    for (const request of orphans) {
      request.replyTo.deliver(
        errorReply(new UnavailableError(`no server of "${this.service}" is left to take the request`)),
      );
    }
  }
}
