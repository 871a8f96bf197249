import { AmqpTransport, type QueueType } from '@switchyard/broker';
import type { EventsHarness } from './events-harness.js';
import { EVENTS_GROUP, EVENTS_TOPIC } from './events-topology.js';

/**
 * Switchyard: one AmqpTransport publishing, another subscribing the group (two services,
 * as in production; each transport keeps separate publish and consume connections).
 * No schema validation here: like the baseline, this measures the transport alone.
 */
export async function oursEventsHarness(url: string, namespace: string, queueType: QueueType): Promise<EventsHarness> {
  const publisher = new AmqpTransport({ url, namespace });
  const subscriber = new AmqpTransport({ url, namespace });
  await publisher.start();
  await subscriber.start();
  let onEvent: () => void = () => {};
  const subscription = await subscriber.subscribe(EVENTS_TOPIC, () => onEvent(), { group: EVENTS_GROUP, queueType });
  return {
    onEvent(cb) {
      onEvent = cb;
    },
    async publish(payload) {
      await publisher.publish(EVENTS_TOPIC, payload);
    },
    async close() {
      await subscription.close();
      await subscriber.close();
      await publisher.close();
    },
  };
}
