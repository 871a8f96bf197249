import { authPrefix, EtcdAuthStore } from '@switchyard/auth';
import { Etcd3 } from 'etcd3';
import { inject } from 'vitest';
import { runAuthStoreContract } from '../contract/auth-store.contract.js';
import { uniqueNamespace } from '../harness/servers.js';

runAuthStoreContract('etcd', async () => {
  const namespace = uniqueNamespace('auth-store');
  const endpoints = [inject('etcdEndpoint')];
  // Two stores on one namespace: a change made through one is seen by the other's watch (another replica, the CLI).
  const store = new EtcdAuthStore({ endpoints, namespace });
  const other = new EtcdAuthStore({ endpoints, namespace });
  await store.start();
  await other.start();
  return {
    store,
    other,
    async cleanup() {
      await store.close();
      await other.close();
      const c = new Etcd3({ hosts: endpoints });
      await c.delete().prefix(authPrefix(namespace));
      c.close();
    },
  };
});
