import { SwitchyardError } from '@switchyard/broker';
import { createEtcdClient } from '@switchyard/sdk';
import { UnreachableError, UsageError } from '../output/cli-errors.js';
import type { CliSettings } from './settings.js';

/** The etcd3 client the SDK builds (typed without importing etcd3 here). */
export type EtcdClient = ReturnType<typeof createEtcdClient>;

/** A command waits at most this long for one etcd call (connecting included). */
export const CLI_ETCD_TIMEOUT_MS = 5_000;

export function requireEtcd(settings: CliSettings): readonly string[] {
  if (settings.etcdEndpoints.length === 0) {
    throw new UsageError('no etcd configured: pass --etcd http://host:2379 or set SWITCHYARD_ETCD');
  }
  return settings.etcdEndpoints;
}

export function openEtcd(settings: CliSettings): EtcdClient {
  return createEtcdClient(requireEtcd(settings), { dialTimeoutMs: CLI_ETCD_TIMEOUT_MS, tls: settings.etcdTls });
}

/** etcd3 and cockatiel failures that mean "etcd did not answer". */
const UNREACHABLE_NAMES = new Set([
  'GRPCUnavailableError',
  'GRPCDeadlineExceededError',
  'GRPCConnectFailedError',
  'BrokenCircuitError',
]);

/**
 * An error from talking to etcd, as the CLI reports it: etcd not answering becomes
 * UnreachableError (exit 3); Switchyard errors other than UNAVAILABLE pass through; any
 * other etcd error keeps its message.
 */
export function etcdFailure(err: unknown, endpoints: readonly string[]): unknown {
  if (err instanceof UnreachableError) return err;
  const name = (err as Error | null)?.constructor?.name ?? '';
  const message = err instanceof Error ? err.message : String(err);
  const unreachable =
    (err instanceof SwitchyardError && err.code === 'UNAVAILABLE') ||
    UNREACHABLE_NAMES.has(name) ||
    /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.test(message);
  if (!unreachable) return err;
  return new UnreachableError(`etcd at ${endpoints.join(',')} is unreachable: ${firstLine(message)}`, {
    cause: err,
    details: { server: 'etcd', endpoint: endpoints.join(',') },
  });
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/\s*Resolution note:.*$/, '');
}
