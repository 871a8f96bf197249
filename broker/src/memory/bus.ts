/**
 * MemoryBus: the in-process stand-in for a RabbitMQ vhost.
 *
 * It owns the queues, so it outlives the transports that use it: several MemoryTransports
 * given the same bus behave like several service instances on one broker (competing
 * consumers, fan-out to groups, shared request queues). There is no global bus: each
 * `new MemoryTransport()` without a `bus` gets a private one.
 *
 * Besides what transports use, it offers a small operations/test API: list queues, read
 * their depth, and read or take the dead letters of a group queue.
 */
import { FailedPreconditionError, UnroutableError } from '../errors.js';
import type { QueueType } from '../transport.js';
import { EventQueue } from './event-queue.js';
import type { EventMessage, MemoryDeadLetter } from './messages.js';
import { RpcQueue } from './rpc-queue.js';

export interface MemoryQueueStats {
  name: string;
  kind: 'events' | 'rpc';
  /** Messages waiting for a consumer. */
  ready: number;
  /** Messages handed to consumers and not settled yet. */
  unacked: number;
  consumers: number;
  /** Events waiting for a retry timer (events only). */
  retrying: number;
  /** Messages in the dead-letter queue (events only). */
  deadLetters: number;
}

export class MemoryBus {
  private readonly eventQueues = new Map<string, EventQueue>();
  /** Per namespace: the queues bound to `<ns>.events`. */
  private readonly bindings = new Map<string, Set<EventQueue>>();
  private readonly rpcQueues = new Map<string, RpcQueue>();
  private closed = false;

  /**
   * Route an event to every group queue of the namespace whose pattern matches the topic;
   * returns how many took it. Throws UNROUTABLE when none does.
   */
  publishEvent(namespace: string, message: EventMessage): number {
    let routed = 0;
    for (const queue of this.bindings.get(namespace) ?? []) {
      if (!queue.matches(message.topic)) continue;
      queue.work.enqueue(message);
      routed++;
    }
    if (routed === 0)
      throw new UnroutableError(`no group subscribes to topic "${message.topic}"`, {
        details: { topic: message.topic },
      });
    return routed;
  }

  /** Declare (idempotently) the group queue for (group, pattern); a different queue type is refused like RabbitMQ's 406. */
  declareEventQueue(namespace: string, group: string, pattern: string, queueType: QueueType): EventQueue {
    const name = `${namespace}.events.${group}.${pattern}`;
    const existing = this.eventQueues.get(name);
    if (existing) {
      if (existing.queueType !== queueType)
        throw new FailedPreconditionError(
          `queue "${name}" exists as a ${existing.queueType} queue; cannot redeclare it as ${queueType}`,
          { details: { queue: name, queueType: existing.queueType } },
        );
      return existing;
    }
    const queue = new EventQueue(name, namespace, pattern, queueType);
    this.eventQueues.set(name, queue);
    let bound = this.bindings.get(namespace);
    if (!bound) {
      bound = new Set();
      this.bindings.set(namespace, bound);
    }
    bound.add(queue);
    return queue;
  }

  /** The request queue of a service, or undefined when no server consumes it. */
  rpcQueue(namespace: string, service: string): RpcQueue | undefined {
    return this.rpcQueues.get(rpcQueueName(namespace, service));
  }

  /** Declare the request queue of a service; it is deleted when its last consumer leaves. */
  declareRpcQueue(namespace: string, service: string): RpcQueue {
    const name = rpcQueueName(namespace, service);
    const existing = this.rpcQueues.get(name);
    if (existing && !existing.isDeleted) return existing;
    const queue = new RpcQueue(name, service, (q) => {
      if (this.rpcQueues.get(q.name) === q) this.rpcQueues.delete(q.name);
    });
    this.rpcQueues.set(name, queue);
    return queue;
  }

  // ---------------------------------------------------------------------------------
  // Operations / test API

  /** Names of every queue on the bus, events and RPC. */
  queueNames(): string[] {
    return [...this.eventQueues.keys(), ...this.rpcQueues.keys()];
  }

  /** Counters of one queue (group queue or service request queue), or undefined when it does not exist. */
  queueStats(name: string): MemoryQueueStats | undefined {
    const events = this.eventQueues.get(name);
    if (events) {
      return {
        name,
        kind: 'events',
        ready: events.work.depth,
        unacked: events.work.unacked,
        consumers: events.work.consumerCount,
        retrying: events.pendingRetries,
        deadLetters: events.deadLetterCount,
      };
    }
    const rpc = this.rpcQueues.get(name);
    if (rpc) {
      return {
        name,
        kind: 'rpc',
        ready: rpc.work.depth,
        unacked: rpc.work.unacked,
        consumers: rpc.work.consumerCount,
        retrying: 0,
        deadLetters: 0,
      };
    }
    return undefined;
  }

  /** The dead letters in `<queue>.dlq` (a Subscription's `deadLetterQueue`), oldest first, left in place. */
  deadLetters(deadLetterQueue: string): MemoryDeadLetter[] {
    return this.eventQueueOfDlq(deadLetterQueue)?.peekDeadLetters() ?? [];
  }

  /** Remove and return the dead letters in `<queue>.dlq`, oldest first. */
  takeDeadLetters(deadLetterQueue: string): MemoryDeadLetter[] {
    return this.eventQueueOfDlq(deadLetterQueue)?.takeDeadLetters() ?? [];
  }

  /**
   * Drop pending retry timers. Queues stay readable. Called by a transport that owns a
   * private bus when it closes; call it yourself on a shared bus you are done with.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const queue of this.eventQueues.values()) queue.dispose();
  }

  private eventQueueOfDlq(deadLetterQueue: string): EventQueue | undefined {
    if (!deadLetterQueue.endsWith('.dlq')) return undefined;
    return this.eventQueues.get(deadLetterQueue.slice(0, -'.dlq'.length));
  }
}

export function rpcQueueName(namespace: string, service: string): string {
  return `${namespace}.rpc.${service}`;
}
