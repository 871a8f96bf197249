import { EtcdRuleSource, ruleKey, rulesPrefix } from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { inject } from 'vitest';
import { runRuleSourceContract } from '../contract/rule-source.contract.js';
import { uniqueNamespace } from '../harness/servers.js';

runRuleSourceContract('etcd', async () => {
  const namespace = uniqueNamespace('rules');
  const client = new Etcd3({ hosts: inject('etcdEndpoint') });
  const source = new EtcdRuleSource({ client, namespace });
  await source.start();
  return {
    source,
    async store(rules) {
      await client.delete().prefix(rulesPrefix(namespace));
      for (const r of rules) await client.put(ruleKey(namespace, r.id)).value(JSON.stringify(r));
    },
    async storeInvalid(id) {
      await client.put(ruleKey(namespace, id)).value(JSON.stringify({ id, resource: 'nope', access: 'granted' }));
    },
    async cleanup() {
      await source.close();
      await client.delete().prefix(rulesPrefix(namespace));
      client.close();
    },
  };
});
