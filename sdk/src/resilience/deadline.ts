/**
 * The absolute deadline (ms since the epoch) of an outgoing call: the earliest of
 * `now + timeoutMs`, an explicit deadline and one inherited from the request being
 * handled. Inheriting is what makes a deadline set by the first caller hold on every hop.
 */
export function callDeadline(
  now: number,
  timeoutMs: number,
  explicit: number | undefined,
  inherited: number | undefined,
): number {
  let deadline = now + timeoutMs;
  if (explicit !== undefined && explicit < deadline) deadline = explicit;
  if (inherited !== undefined && inherited < deadline) deadline = inherited;
  return deadline;
}
