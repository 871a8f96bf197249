/** The bidi contract (tests/contract/bidi.contract.ts) on AmqpTransport against the real RabbitMQ. */
import { AmqpTransport, type Transport } from '@switchyard/broker';
import { afterAll, inject } from 'vitest';
import { runBidiContract } from '../contract/bidi.contract.js';
import { deleteNamespaces } from '../fixtures/amqp-broker.js';

const url = inject('amqpUrl');
const namespaces: string[] = [];

afterAll(async () => {
  await deleteNamespaces(url, namespaces);
}, 60_000);

runBidiContract('amqp', async (namespace) => {
  namespaces.push(namespace);
  const transports: AmqpTransport[] = [];
  return {
    async transport(): Promise<Transport> {
      const t = new AmqpTransport({ url, namespace, connectionName: `${namespace}/${transports.length}` });
      transports.push(t);
      await t.start();
      return t;
    },
    async readDeadLetters() {
      return [];
    },
    async cleanup(): Promise<void> {
      await Promise.all(transports.map((t) => t.close()));
    },
  };
});
