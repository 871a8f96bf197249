import {
  type IncomingEvent,
  type IncomingRequest,
  InvalidOptionsError,
  isSwitchyardError,
  MEMORY_TRANSPORT_DEFAULTS,
  MemoryBus,
  MemoryTransport,
  type SwitchyardError,
  type TransportState,
} from '@switchyard/broker';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, eventually, rejection, runTransportContract, sleep } from '../contract/transport.contract.js';

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

describe('MemoryTransport specifics', () => {
  const open: MemoryTransport[] = [];
  const releases: Array<() => void> = [];
  function transport(options: ConstructorParameters<typeof MemoryTransport>[0] = {}): MemoryTransport {
    const t = new MemoryTransport(options);
    open.push(t);
    return t;
  }
  afterEach(async () => {
    for (const r of releases.splice(0)) r();
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  describe('options', () => {
    it('documents its defaults', () => {
      expect(MEMORY_TRANSPORT_DEFAULTS).toEqual({
        namespace: 'switchyard',
        defaultContentType: 'application/json',
        defaultTimeoutMs: 30_000,
        defaultStreamWindow: 16,
        defaultPrefetch: 100,
        drainTimeoutMs: 30_000,
      });
      const t = transport();
      expect(t.namespace).toBe('switchyard');
      expect(t.kind).toBe('memory');
      expect(t.state).toBe('idle');
    });

    it.each([
      [{ namespace: '' }, 'namespace'],
      [{ namespace: 'has space' }, 'namespace'],
      [{ defaultTimeoutMs: 0 }, 'defaultTimeoutMs'],
      [{ defaultStreamWindow: 1.5 }, 'defaultStreamWindow'],
      [{ defaultPrefetch: 0 }, 'defaultPrefetch'],
      [{ drainTimeoutMs: -1 }, 'drainTimeoutMs'],
      [{ defaultContentType: 'text/csv' }, 'text/csv'],
      [{ codecs: [] }, 'codecs'],
      [{ bus: {} }, 'bus'],
      [{ prefetch: 10 }, 'prefetch'],
    ])('rejects %o naming %s', (options, named) => {
      let err: unknown;
      try {
        new MemoryTransport(options as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect((err as Error).message).toContain(named);
    });

    it('validates subscribe and serve options, naming the option', async () => {
      const t = transport();
      const bad = async (p: Promise<unknown>, named: string) => {
        const err = await rejection(p);
        expect(err.code).toBe('INVALID_OPTIONS');
        expect(err.message).toContain(named);
      };
      await bad(
        t.subscribe('a', () => {}, { group: 'g', retry: { factor: 0.5 } }),
        'retry.factor',
      );
      await bad(
        t.subscribe('a', () => {}, { group: 'g', retry: { initialDelayMs: -1 } }),
        'retry.initialDelayMs',
      );
      await bad(
        t.subscribe('a', () => {}, { group: 'g', retry: { atempts: 3 } as never }),
        'retry.atempts',
      );
      await bad(
        t.subscribe('a', () => {}, { group: 'g', queueType: 'stream' as never }),
        'queueType',
      );
      await bad(
        t.subscribe('a', () => {}, { group: 'g', prefetch: 2.5 }),
        'prefetch',
      );
      await bad(t.serve('svc', {}), 'methods');
      await bad(t.serve('svc', { m: {} as never }), 'methods.m.handler');
      await bad(t.serve('svc', { m: { handler: () => 1 } }, { prefetch: 0 }), 'prefetch');
    });

    it('defaultTimeoutMs applies to calls that set no timeout', async () => {
      const bus = new MemoryBus();
      const server = transport({ bus });
      const client = transport({ bus, defaultTimeoutMs: 100 });
      await server.serve('slow', {
        // Answers well after the deadline: resolving on the server's own abort (at the same
        // deadline) raced the caller's timer on a loaded machine.
        m: { handler: () => new Promise((resolve) => setTimeout(() => resolve({ late: true }), 1_000)) },
      });
      const t0 = Date.now();
      const err = await rejection(client.call('slow', 'm', {}));
      expect(err.code).toBe('DEADLINE_EXCEEDED');
      expect(Date.now() - t0).toBeLessThan(2000);
    });
  });

  describe('isolation', () => {
    it('has no global bus: two transports without a shared bus do not see each other', async () => {
      const a = transport();
      const b = transport();
      await b.subscribe('t', () => {}, { group: 'g' });
      await b.serve('svc', { m: { handler: () => 1 } });
      expect((await rejection(a.publish('t', {}))).code).toBe('UNROUTABLE');
      expect((await rejection(a.call('svc', 'm', {}))).code).toBe('UNAVAILABLE');
    });

    it('namespaces on one bus are separate', async () => {
      const bus = new MemoryBus();
      const a = transport({ bus, namespace: 'ns-a' });
      const b = transport({ bus, namespace: 'ns-b' });
      await b.subscribe('t', () => {}, { group: 'g' });
      expect((await rejection(a.publish('t', {}))).code).toBe('UNROUTABLE');
      expect(bus.queueNames()).toEqual(['ns-b.events.g.t']);
    });
  });

  describe('lifecycle', () => {
    it('emits idle -> connecting -> connected -> closed, and starts on first use', async () => {
      const t = transport();
      const states: TransportState[] = [];
      t.on('state', (s) => states.push(s));
      await t.subscribe('t', () => {}, { group: 'g' });
      expect(t.state).toBe('connected');
      await t.close();
      expect(states).toEqual(['connecting', 'connected', 'closed']);
      expect((await rejection(t.start())).code).toBe('CLOSED');
    });

    it('off() removes a listener', async () => {
      const t = transport();
      const states: TransportState[] = [];
      const listener = (s: TransportState) => states.push(s);
      t.on('state', listener).off('state', listener);
      await t.start();
      expect(states).toEqual([]);
    });

    it('close() fails pending streams with UNAVAILABLE', async () => {
      const bus = new MemoryBus();
      const server = transport({ bus });
      const client = transport({ bus });
      await server.serve('s', {
        run: {
          streaming: true,
          handler: async function* (req) {
            yield 1;
            await new Promise((resolve) => req.signal.addEventListener('abort', resolve));
          },
        },
      });
      const it = client.stream('s', 'run', {}, { timeoutMs: 20_000 });
      expect((await it.next()).value).toBe(1);
      const pending = it.next();
      await client.close();
      const err = await rejection(pending);
      expect(err.code).toBe('UNAVAILABLE');
      expect((await it.next()).done).toBe(true);
    });

    it('a subscriber stuck past drainTimeoutMs: close() returns and the event is redelivered to the group', async () => {
      const bus = new MemoryBus();
      const stuck = transport({ bus, drainTimeoutMs: 100 });
      const healthy = transport({ bus });
      const release = deferred();
      releases.push(() => release.resolve());
      const started = deferred();
      await stuck.subscribe(
        'jobs',
        async () => {
          started.resolve();
          await release.promise;
        },
        { group: 'workers' },
      );
      await healthy.publish('jobs', { n: 1 }, { messageId: 'job-1' });
      await started.promise;
      const got = deferred<IncomingEvent>();
      await healthy.subscribe('jobs', (e) => got.resolve(e), { group: 'workers' });
      const t0 = Date.now();
      await stuck.close();
      expect(Date.now() - t0).toBeLessThan(2000);
      const e = await got.promise;
      expect(e.id).toBe('job-1');
      expect(e.redelivered).toBe(true);
      expect(e.attempt).toBe(1);
    });

    it('a server stuck past drainTimeoutMs: its request goes to another server as redelivered, its signal aborts', async () => {
      const bus = new MemoryBus();
      const stuckT = transport({ bus, drainTimeoutMs: 100 });
      const otherT = transport({ bus });
      const client = transport({ bus });
      const aborted = deferred();
      const started = deferred();
      const stuck = await stuckT.serve(
        'svc',
        {
          m: {
            handler: (req) =>
              new Promise(() => {
                started.resolve();
                req.signal.addEventListener('abort', () => aborted.resolve());
              }),
          },
        },
        { prefetch: 1 },
      );
      const call = client.call('svc', 'm', { n: 1 }, { timeoutMs: 10_000 });
      await started.promise;
      let redelivered: boolean | undefined;
      await otherT.serve('svc', {
        m: {
          handler: (req) => {
            redelivered = req.redelivered;
            return 'other';
          },
        },
      });
      await stuck.close();
      await aborted.promise;
      expect(await call).toBe('other');
      expect(redelivered).toBe(true);
    });

    it('quorum queues dead-letter an event after 20 unsettled deliveries (delivery-limit); classic ones keep it', async () => {
      const bus = new MemoryBus();
      const publisher = transport({ bus });
      for (const queueType of ['quorum', 'classic'] as const) {
        const topic = `poison.${queueType}`;
        const sub = await publisher.subscribe(topic, () => {}, { group: 'g', queueType });
        await sub.close();
        await publisher.publish(topic, { n: 1 }, { messageId: `p-${queueType}` });
        for (let i = 0; i < 21; i++) {
          const crashing = new MemoryTransport({ bus, drainTimeoutMs: 0 });
          const started = deferred();
          await crashing.subscribe(topic, () => new Promise(() => started.resolve()), { group: 'g', queueType });
          await started.promise;
          await crashing.close();
        }
        const stats = bus.queueStats(`switchyard.events.g.${topic}`);
        if (queueType === 'quorum') {
          const [dead] = bus.takeDeadLetters(sub.deadLetterQueue);
          expect(dead?.headers['x-death-reason']).toBe('delivery-limit');
          expect(stats?.ready).toBe(0);
        } else {
          expect(bus.deadLetters(sub.deadLetterQueue)).toEqual([]);
          expect(stats?.ready).toBe(1);
        }
      }
    });
  });

  describe('events', () => {
    it('publisher and handlers share no objects: each handler decodes its own copy', async () => {
      const t = transport();
      const a = deferred<IncomingEvent>();
      const b = deferred<IncomingEvent>();
      await t.subscribe(
        'x',
        (e) => {
          (e.payload as { list: number[] }).list.push(99);
          a.resolve(e);
        },
        { group: 'a' },
      );
      await t.subscribe('x', (e) => b.resolve(e), { group: 'b' });
      const payload = { list: [1, 2] };
      await t.publish('x', payload);
      payload.list.push(3);
      await a.promise;
      expect((await b.promise).payload).toEqual({ list: [1, 2] });
    });

    it('an undecodable body is dead-lettered at once with reason undecodable', async () => {
      const bus = new MemoryBus();
      const t = transport({ bus, namespace: 'ns' });
      let handled = 0;
      const sub = await t.subscribe('raw', () => void handled++, { group: 'g' });
      bus.publishEvent('ns', {
        id: 'raw-1',
        topic: 'raw',
        body: Buffer.from('{not json'),
        contentType: 'application/json',
        headers: {},
        timestamp: Date.now(),
        redelivered: false,
        deliveryCount: 0,
      });
      const [dead] = await eventually(() => {
        const letters = t.takeDeadLetters(sub.deadLetterQueue);
        expect(letters).toHaveLength(1);
        return letters;
      });
      expect(dead!.headers['x-death-reason']).toBe('undecodable');
      expect(dead!.headers['x-error-code']).toBe('INVALID_ARGUMENT');
      expect(dead!.payload).toBeUndefined();
      expect(dead!.body.toString()).toBe('{not json');
      expect(handled).toBe(0);
    });

    it('validate throwing a plain Error dead-letters as INVALID_ARGUMENT; a plain handler Error as INTERNAL', async () => {
      const t = transport();
      const invalid = await t.subscribe('v', () => {}, {
        group: 'g',
        validate: () => {
          throw new Error('qty missing');
        },
      });
      const failing = await t.subscribe(
        'f',
        () => {
          throw new TypeError('cannot read x of undefined');
        },
        { group: 'g', retry: { attempts: 1 } },
      );
      await t.publish('v', {});
      await t.publish('f', {});
      await eventually(() => {
        expect(t.deadLetters(invalid.deadLetterQueue)).toHaveLength(1);
        expect(t.deadLetters(failing.deadLetterQueue)).toHaveLength(1);
      });
      const [v] = t.deadLetters(invalid.deadLetterQueue);
      expect(v!.headers['x-error-code']).toBe('INVALID_ARGUMENT');
      expect(v!.headers['x-error-message']).toContain('qty missing');
      const [f] = t.deadLetters(failing.deadLetterQueue);
      expect(f!.headers['x-error-code']).toBe('INTERNAL');
      expect(f!.headers['x-death-reason']).toBe('handler-failed');
      expect(f!.headers['x-attempt']).toBe('1');
      expect(f!.payload).toEqual({});
    });

    it('deadLetters() reads without removing; takeDeadLetters() removes', async () => {
      const t = transport();
      const sub = await t.subscribe('d2', () => {}, {
        group: 'g',
        validate: () => {
          throw new Error('no');
        },
      });
      await t.publish('d2', { n: 1 });
      await t.publish('d2', { n: 2 });
      await eventually(() => expect(t.deadLetters(sub.deadLetterQueue)).toHaveLength(2));
      expect(t.deadLetters(sub.deadLetterQueue).map((l) => l.payload)).toEqual([{ n: 1 }, { n: 2 }]);
      expect(t.takeDeadLetters(sub.deadLetterQueue).map((l) => l.payload)).toEqual([{ n: 1 }, { n: 2 }]);
      expect(t.deadLetters(sub.deadLetterQueue)).toEqual([]);
      expect(t.deadLetters('no.such.queue.dlq')).toEqual([]);
    });

    it('a retry waits in the queue, not in the subscriber: it survives the subscriber closing', async () => {
      const bus = new MemoryBus();
      const first = transport({ bus });
      const attempts: number[] = [];
      const failed = deferred();
      const sub = await first.subscribe(
        'r',
        (e) => {
          attempts.push(e.attempt);
          failed.resolve();
          throw new Error('fail once');
        },
        { group: 'g', retry: { initialDelayMs: 150 } },
      );
      await first.publish('r', {});
      await failed.promise;
      await sub.close();
      expect(bus.queueStats('switchyard.events.g.r')).toMatchObject({ retrying: 1, consumers: 0 });
      const second = transport({ bus });
      const got = deferred<IncomingEvent>();
      await second.subscribe('r', (e) => got.resolve(e), { group: 'g' });
      expect((await got.promise).attempt).toBe(2);
      expect(attempts).toEqual([1]);
    });

    it('maxDelayMs caps the backoff', async () => {
      const t = transport();
      const at: number[] = [];
      const done = deferred();
      await t.subscribe(
        'cap',
        () => {
          at.push(Date.now());
          if (at.length < 4) throw new Error('again');
          done.resolve();
        },
        // Uncapped this would wait 50 + 500 + 5000 ms.
        { group: 'g', retry: { attempts: 4, initialDelayMs: 50, factor: 10, maxDelayMs: 60 } },
      );
      await t.publish('cap', {});
      await done.promise;
      const total = at[3]! - at[0]!;
      expect(total).toBeGreaterThanOrEqual(150);
      expect(total).toBeLessThan(1000);
    });

    it('redeclaring a group queue with another queue type is FAILED_PRECONDITION', async () => {
      const t = transport();
      await t.subscribe('q', () => {}, { group: 'g', queueType: 'classic' });
      const err = await rejection(t.subscribe('q', () => {}, { group: 'g', queueType: 'quorum' }));
      expect(err.code).toBe('FAILED_PRECONDITION');
    });

    it('rejects bad publishes with INVALID_ARGUMENT: wildcard topic, unknown codec, unencodable payload', async () => {
      const t = transport();
      await t.subscribe('#', () => {}, { group: 'all' });
      for (const p of [
        t.publish('orders.*', {}),
        t.publish('', {}),
        t.publish('ok', {}, { contentType: 'text/csv' }),
        t.publish('ok', { n: 1n }),
        t.publish('ok', {}, { headers: { n: 1 as never } }),
      ]) {
        expect((await rejection(p)).canonical).toBe('INVALID_ARGUMENT');
      }
    });

    it('the bus reports queue statistics', async () => {
      const bus = new MemoryBus();
      const t = transport({ bus, namespace: 'stats' });
      const sub = await t.subscribe('s', () => {}, { group: 'g' });
      await sub.close();
      await t.publish('s', 1);
      await t.publish('s', 2);
      expect(bus.queueStats('stats.events.g.s')).toEqual({
        name: 'stats.events.g.s',
        kind: 'events',
        ready: 2,
        unacked: 0,
        consumers: 0,
        retrying: 0,
        deadLetters: 0,
      });
      const server = await t.serve('svc', { m: { handler: () => 1 } });
      expect(bus.queueStats('stats.rpc.svc')).toMatchObject({ kind: 'rpc', consumers: 1 });
      await server.close();
      // auto-delete: gone with its last server
      expect(bus.queueStats('stats.rpc.svc')).toBeUndefined();
      expect(bus.queueStats('nope')).toBeUndefined();
    });
  });

  describe('rpc', () => {
    it('requests queued behind a closing server go to the other server', async () => {
      const bus = new MemoryBus();
      const t1 = transport({ bus });
      const t2 = transport({ bus });
      const client = transport({ bus });
      const gate1 = deferred();
      const gate2 = deferred();
      releases.push(gate1.resolve, gate2.resolve);
      const served = { s1: [] as number[], s2: [] as number[] };
      const method = (who: 's1' | 's2', gate: Promise<void>) => ({
        m: {
          handler: async (req: IncomingRequest) => {
            served[who].push(req.payload as number);
            await gate;
            return who;
          },
        },
      });
      const s1 = await t1.serve('svc', method('s1', gate1.promise), { prefetch: 1 });
      await t2.serve('svc', method('s2', gate2.promise), { prefetch: 1 });
      const calls = [0, 1, 2, 3].map((n) => client.call('svc', 'm', n, { timeoutMs: 10_000 }));
      await eventually(() => expect(served.s1.length + served.s2.length).toBe(2));
      const closing = s1.close();
      gate2.resolve();
      await eventually(() => expect(served.s2.length).toBe(3));
      gate1.resolve();
      await closing;
      const replies = await Promise.all(calls);
      expect(replies.filter((r) => r === 's1')).toHaveLength(1);
      expect(replies.filter((r) => r === 's2')).toHaveLength(3);
    });

    it('requests queued when the last server closes fail UNAVAILABLE at once; the one in flight completes', async () => {
      const bus = new MemoryBus();
      const serverT = transport({ bus });
      const client = transport({ bus });
      const gate = deferred();
      releases.push(gate.resolve);
      const started = deferred();
      const server = await serverT.serve(
        'svc',
        {
          m: {
            handler: async () => {
              started.resolve();
              await gate.promise;
              return 'done';
            },
          },
        },
        { prefetch: 1 },
      );
      const inFlight = client.call('svc', 'm', 0, { timeoutMs: 10_000 });
      await started.promise;
      const queued = [1, 2].map((n) => rejection(client.call('svc', 'm', n, { timeoutMs: 10_000 })));
      await sleep(10);
      const closing = server.close();
      for (const err of await Promise.all(queued)) expect(err.code).toBe('UNAVAILABLE');
      gate.resolve();
      expect(await inFlight).toBe('done');
      await closing;
    });

    it('a call whose deadline already passed fails DEADLINE_EXCEEDED without reaching the server', async () => {
      const t = transport();
      let ran = 0;
      await t.serve('svc', { m: { handler: () => ran++ } });
      const err = await rejection(t.call('svc', 'm', {}, { deadline: Date.now() - 1 }));
      expect(err.code).toBe('DEADLINE_EXCEEDED');
      await sleep(20);
      expect(ran).toBe(0);
    });

    it("the caller's AbortSignal cancels a call with CANCELLED", async () => {
      const t = transport();
      await t.serve('svc', {
        m: { handler: (req) => new Promise((resolve) => req.signal.addEventListener('abort', resolve)) },
      });
      const controller = new AbortController();
      const p = rejection(t.call('svc', 'm', {}, { signal: controller.signal, timeoutMs: 500 }));
      await sleep(20);
      controller.abort();
      expect((await p).code).toBe('CANCELLED');
      const pre = await rejection(t.call('svc', 'm', {}, { signal: AbortSignal.abort() }));
      expect(pre.code).toBe('CANCELLED');
    });

    it('stream() on a unary method and call() on a streaming one are FAILED_PRECONDITION', async () => {
      const t = transport();
      await t.serve('svc', {
        unary: { handler: () => 1 },
        streamy: { streaming: true, handler: () => [1, 2] },
      });
      expect((await rejection(t.call('svc', 'streamy', {}))).code).toBe('FAILED_PRECONDITION');
      const it = t.stream('svc', 'unary', {});
      expect((await rejection(it.next())).code).toBe('FAILED_PRECONDITION');
    });

    it('a streaming handler may return a plain iterable', async () => {
      const t = transport();
      await t.serve('svc', { list: { streaming: true, handler: () => ['a', 'b', 'c'] } });
      const items: unknown[] = [];
      for await (const item of t.stream('svc', 'list', {})) items.push(item);
      expect(items).toEqual(['a', 'b', 'c']);
    });

    it('bad stream arguments surface on the first next()', async () => {
      const t = transport();
      const it = t.stream('svc', 'm', {}, { window: 0 });
      const err = await rejection(it.next());
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect((await it.next()).done).toBe(true);
    });

    it("a handler's plain Error reaches 'error' listeners in full, the caller only as INTERNAL", async () => {
      const bus = new MemoryBus();
      const server = transport({ bus });
      const client = transport({ bus });
      const reported: SwitchyardError[] = [];
      server.on('error', (err) => reported.push(err as SwitchyardError));
      await server.serve('svc', {
        m: {
          handler: () => {
            throw new Error('disk full on /var/db');
          },
        },
      });
      const err = await rejection(client.call('svc', 'm', {}));
      expect(err.message).not.toContain('disk full');
      expect(reported).toHaveLength(1);
      expect(reported[0]!.message).toContain('disk full on /var/db');
      expect(isSwitchyardError(reported[0], 'INTERNAL')).toBe(true);
    });

    it('a reply is a decoded copy: the handler keeps no reference into the caller', async () => {
      const t = transport();
      const kept = { list: [1] };
      await t.serve('svc', { m: { handler: () => kept } });
      const reply = (await t.call('svc', 'm', {})) as { list: number[] };
      reply.list.push(2);
      expect(kept.list).toEqual([1]);
      expect(reply).not.toBe(kept);
    });
  });

  describe('throughput (figures, not assertions)', () => {
    it('measures unary calls/s and events/s in one process', async () => {
      const bus = new MemoryBus();
      const server = transport({ bus });
      const client = transport({ bus });
      await server.serve('bench', { echo: { handler: (req) => req.payload } });
      const calls = 20_000;
      let t0 = performance.now();
      const concurrency = 100;
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < calls) {
            next++;
            await client.call('bench', 'echo', { n: next, text: 'hello' });
          }
        }),
      );
      const callMs = performance.now() - t0;
      let received = 0;
      const all = deferred();
      const events = 20_000;
      await server.subscribe(
        'bench.events',
        () => {
          if (++received === events) all.resolve();
        },
        { group: 'bench' },
      );
      t0 = performance.now();
      for (let i = 0; i < events; i++) await client.publish('bench.events', { i });
      await all.promise;
      const eventMs = performance.now() - t0;
      console.log(
        `[memory] ${calls} unary calls (concurrency ${concurrency}): ${Math.round((calls / callMs) * 1000)} calls/s; ` +
          `${events} events publish->handle: ${Math.round((events / eventMs) * 1000)} events/s`,
      );
      expect(received).toBe(events);
    });
  });
});
