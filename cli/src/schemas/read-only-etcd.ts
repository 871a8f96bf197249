import { InternalError } from '@switchyard/broker';
import type { EtcdClient } from '../connect/etcd.js';

/**
 * An etcd client for dry runs: reads go to etcd, every transaction "succeeds" without being
 * sent, and any other write is refused. Handing it to `SchemaPublisher` runs the
 * publisher's complete check (compile against the published set, compatibility with each
 * latest version and with the schemas that reference it) and reports the versions it
 * would create — with nothing written, by construction rather than by care.
 */
export function readOnlyEtcd(client: EtcdClient): EtcdClient {
  const txn = {
    and: () => txn,
    or: () => txn,
    // biome-ignore lint/suspicious/noThenProperty: etcd3's transaction builder names its operation list `then`
    then: () => txn,
    else: () => txn,
    commit: async () => ({ succeeded: true, responses: [], header: { revision: '0' } }),
  };
  // Built for a transaction's operation list only; never executed.
  const inert: Record<string, unknown> = {};
  for (const m of ['key', 'value', 'lease', 'prefix', 'range', 'ignoreLease', 'ignoreValue', 'prevKv', 'all']) {
    inert[m] = () => inert;
  }
  inert.exec = () => Promise.reject(new InternalError('dry run: a write was attempted'));
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'if') return () => txn;
      if (prop === 'put' || prop === 'delete') return () => inert;
      if (prop === 'get' || prop === 'getAll' || prop === 'close') {
        const fn = Reflect.get(target, prop, target) as (...a: unknown[]) => unknown;
        return fn.bind(target);
      }
      return () => {
        throw new InternalError(`dry run: etcd client method ${String(prop)} is not allowed`);
      };
    },
  });
}
