/** The bidi contract (tests/contract/bidi.contract.ts) on the in-memory transport, and what only memory can show. */
import { MemoryBus, MemoryTransport } from '@switchyard/broker';
import { describe, expect, it } from 'vitest';
import { runBidiContract } from '../contract/bidi.contract.js';
import { rejection } from '../harness/rejection.js';

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

describe('MemoryTransport bidi specifics', () => {
  it('a server that closes gives its open streams the drain timeout, then ends them UNAVAILABLE (retryable)', async () => {
    const bus = new MemoryBus();
    const server = new MemoryTransport({ bus, drainTimeoutMs: 100 });
    const caller = new MemoryTransport({ bus });
    await Promise.all([server.start(), caller.start()]);
    let reason: unknown;
    await server.serve('chat', {
      echo: {
        bidi: 'bidi',
        async *handler(req) {
          req.signal.addEventListener('abort', () => {
            reason = req.signal.reason;
          });
          for await (const item of req.input!) yield item;
        },
      },
    });
    const call = caller.bidi('chat', 'echo');
    await call.send(1);
    expect((await call.next()).value).toBe(1);
    const waiting = rejection(call.next());
    await server.close();
    expect(await waiting).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(reason).toMatchObject({ code: 'UNAVAILABLE' });
    await caller.close();
    bus.close();
  });
});
