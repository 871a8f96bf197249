/** One variant of the events suite, set up on a namespace and queue type. */
export interface EventsHarness {
  /** Called once per event handled and acked by the subscriber. */
  onEvent(cb: () => void): void;
  /** Resolves when RabbitMQ confirmed the event. */
  publish(payload: unknown): Promise<void>;
  close(): Promise<void>;
}
