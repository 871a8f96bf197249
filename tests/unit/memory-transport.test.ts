import { MemoryBus, MemoryTransport } from '@switchyard/broker';
import { runTransportContract } from '../contract/transport.contract.js';

runTransportContract('memory', async (namespace) => {
  const bus = new MemoryBus();
  const created: MemoryTransport[] = [];
  return {
    async transport() {
      const t = new MemoryTransport({ bus, namespace });
      created.push(t);
      await t.start();
      return t;
    },
    async readDeadLetters(sub) {
      return bus.takeDeadLetters(sub.deadLetterQueue).map((l) => ({
        id: l.id,
        headers: { ...l.headers },
        payload: JSON.parse(l.body.toString('utf8')),
      }));
    },
    async cleanup() {
      await Promise.all(created.map((t) => t.close()));
      bus.close();
    },
  };
});
