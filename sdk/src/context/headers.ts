/** Headers the SDK reads and writes on every call and event (docs/protocol.md §2, §4). */
export const HEADER = Object.freeze({
  /** W3C trace context: `00-<trace id>-<parent span id>-<flags>`. */
  traceparent: 'traceparent',
  /** Who the call is on behalf of: set by the gateway (e.g. the JWT subject) or the calling service's name. */
  caller: 'x-caller',
  /** The name of the service that sent the message. */
  source: 'x-source',
});
