/**
 * The store contract on the real servers: PostgreSQL (127.0.0.1:5432), Redis (6379) and
 * the run's private etcd, each under a database name of its own.
 */
import { EtcdStore, PostgresStore, RedisStore } from '@switchyard/sdk';
import pg from 'pg';
import { inject } from 'vitest';
import { runStoreContract, uniqueDatabase } from '../contract/store.contract.js';
import { uniqueNamespace } from '../harness/servers.js';

runStoreContract('PostgreSQL', async () => {
  const database = uniqueDatabase('pg');
  const store = new PostgresStore({ url: inject('postgresUrl'), database });
  return {
    store,
    cleanup: async () => {
      await store.close();
      const client = new pg.Client(inject('postgresUrl'));
      await client.connect();
      await client.query('DELETE FROM switchyard_store WHERE database = $1', [database]);
      await client.query('DELETE FROM switchyard_store_fences WHERE database = $1', [database]);
      await client.end();
    },
  };
});

runStoreContract('Redis', async () => {
  const keyPrefix = `sytest:${uniqueDatabase('redis')}`;
  const store = new RedisStore({ url: inject('redisUrl'), keyPrefix });
  return {
    store,
    cleanup: async () => {
      const keys = await store.client.keys(`${keyPrefix}:*`);
      if (keys.length > 0) await store.client.del(...keys);
      await store.close();
    },
  };
});

runStoreContract('etcd', async () => {
  const namespace = uniqueNamespace('store');
  const store = new EtcdStore({ endpoints: [inject('etcdEndpoint')], namespace });
  return { store, cleanup: () => store.close() };
});
