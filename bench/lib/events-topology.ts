import type { QueueType } from '@switchyard/broker';

/** Protocol §1/§3 names and arguments for the benchmark subscription. */
export const EVENTS_GROUP = 'bench';
export const EVENTS_TOPIC = 'bench.load';

export const eventsExchange = (ns: string) => `${ns}.events`;
export const groupQueue = (ns: string) => `${ns}.events.${EVENTS_GROUP}.${EVENTS_TOPIC}`;

export function groupQueueArgs(ns: string, type: QueueType): Record<string, unknown> {
  const args: Record<string, unknown> = {
    'x-queue-type': type,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': `${groupQueue(ns)}.dlq`,
  };
  if (type === 'quorum') {
    Object.assign(args, {
      'x-delivery-limit': 20,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
  }
  return args;
}
