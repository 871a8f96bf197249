/** Headers the SDK reads and writes on every call and event (docs/protocol.md §2, §4). */
export const HEADER = Object.freeze({
  /** W3C trace context: `00-<trace id>-<parent span id>-<flags>`. */
  traceparent: 'traceparent',
  /**
   * Who the call is on behalf of, when that is not the sending service: set by the gateway
   * (e.g. the JWT subject) and passed on by every hop. Absent means "the sender itself".
   */
  caller: 'x-caller',
  /** The name of the service that sent the message. */
  source: 'x-source',
});

/** The caller identity of a message: `x-caller`, else the sending service (`x-source`). */
export function callerOf(headers: Readonly<Record<string, string>>): string | undefined {
  return headers[HEADER.caller] ?? headers[HEADER.source];
}
