/**
 * The shared Transport contract, run against AmqpTransport on the real RabbitMQ.
 */
import { AmqpTransport, type Transport } from '@switchyard/broker';
import { afterAll, inject } from 'vitest';
import { type ContractDeadLetter, runTransportContract } from '../contract/transport.contract.js';
import { deleteNamespaces, drainQueue } from '../fixtures/amqp-broker.js';

const url = inject('amqpUrl');
const namespaces: string[] = [];

afterAll(async () => {
  await deleteNamespaces(url, namespaces);
}, 60_000);

runTransportContract('amqp', async (namespace) => {
  namespaces.push(namespace);
  const transports: AmqpTransport[] = [];
  return {
    async transport(): Promise<Transport> {
      const t = new AmqpTransport({ url, namespace, connectionName: `${namespace}/${transports.length}` });
      transports.push(t);
      await t.start();
      return t;
    },
    async readDeadLetters(subscription): Promise<ContractDeadLetter[]> {
      const messages = await drainQueue(url, subscription.deadLetterQueue);
      return messages.map(({ id, payload, headers }) => ({ id, payload, headers }));
    },
    async cleanup(): Promise<void> {
      await Promise.all(transports.map((t) => t.close()));
    },
  };
});
