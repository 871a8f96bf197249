import { isSwitchyardError, type SwitchyardError } from '@switchyard/broker';

/** The rejection of `promise`, which must be a SwitchyardError. */
export async function rejection(promise: Promise<unknown>): Promise<SwitchyardError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected a rejection, but it resolved with ${JSON.stringify(outcome.value)}`);
  if (isSwitchyardError(outcome.error)) return outcome.error;
  throw new Error(`expected a SwitchyardError, got ${String(outcome.error)}`);
}
