/** The bidi contract (tests/contract/bidi.contract.ts) on the in-memory transport. */
import { MemoryBus, MemoryTransport } from '@switchyard/broker';
import { runBidiContract } from '../contract/bidi.contract.js';

runBidiContract('memory', async (namespace) => {
  const bus = new MemoryBus();
  const created: MemoryTransport[] = [];
  return {
    async transport() {
      const t = new MemoryTransport({ bus, namespace });
      created.push(t);
      await t.start();
      return t;
    },
    async readDeadLetters() {
      return [];
    },
    async cleanup() {
      await Promise.all(created.map((t) => t.close()));
      bus.close();
    },
  };
});
