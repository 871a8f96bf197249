import { isSwitchyardError, type SwitchyardError, UnavailableError } from '@switchyard/broker';

/** Any etcd client failure as UNAVAILABLE (retryable); Switchyard errors pass through. */
export function etcdUnavailable(err: unknown, what: string): SwitchyardError {
  if (isSwitchyardError(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new UnavailableError(`etcd ${what} failed: ${reason}`, { cause: err });
}
