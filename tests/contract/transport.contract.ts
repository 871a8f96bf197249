/**
 * The Transport contract: one suite that every Transport implementation must pass.
 *
 * Run it from a `*.test.ts` file with a factory for your transport:
 *
 *   runTransportContract('memory', async (namespace) => {
 *     const bus = new MemoryBus();
 *     ...
 *     return { transport, readDeadLetters, cleanup };
 *   });
 *
 * Each test calls the factory once with a fresh namespace, so nothing (queues, dead
 * letters, servers) leaks between tests even on a shared RabbitMQ. `transport()` returns
 * a NEW started instance on every call, all sharing the namespace (and, in memory, the
 * bus): a test creates two to prove competing consumers, or a caller and a server.
 *
 * The suite keeps every delay small (retry initialDelayMs 50, deadlines of a few hundred
 * ms) so it runs in seconds against a real broker. Timing is only asserted with generous
 * bounds.
 */
import {
  FailedPreconditionError,
  type Headers,
  type IncomingEvent,
  type IncomingRequest,
  InvalidArgumentError,
  isSwitchyardError,
  NotFoundError,
  type Subscription,
  type Transport,
  type TransportState,
  validationError,
} from '@switchyard/broker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejection } from '../harness/rejection.js';
import { uniqueNamespace } from '../harness/servers.js';

/** A dead-lettered message as read back from a subscription's dead-letter queue. */
export interface ContractDeadLetter {
  /** The original message id. */
  id: string;
  /** Decoded body (the original payload). */
  payload: unknown;
  /** All headers of the dead-lettered copy, including `x-death-reason` and friends. */
  headers: Headers;
}

export interface ContractHarness {
  /** A new, started transport instance in this harness's namespace. Every call: another instance. */
  transport(): Promise<Transport>;
  /**
   * Remove and return the messages currently in `subscription.deadLetterQueue`, oldest
   * first. The suite polls it until the messages it expects have arrived.
   */
  readDeadLetters(subscription: Subscription): Promise<ContractDeadLetter[]>;
  /** Close every transport created and remove what the namespace left behind. */
  cleanup(): Promise<void>;
}

export type ContractFactory = (namespace: string) => Promise<ContractHarness>;

// ---------------------------------------------------------------------------------
// Helpers

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Poll `probe` until it stops throwing; rethrow its last failure after `timeoutMs`. */
export async function eventually<T>(probe: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(20);
    }
  }
}

export { rejection };

/** The first error thrown while draining `iterator`, with the items seen before it. */
async function drainUntilError(iterator: AsyncIterable<unknown>): Promise<{ items: unknown[]; error: unknown }> {
  const items: unknown[] = [];
  try {
    for await (const item of iterator) items.push(item);
  } catch (error) {
    return { items, error };
  }
  return { items, error: undefined };
}

const FAST_RETRY = { attempts: 3, initialDelayMs: 50, factor: 2, maxDelayMs: 1000 };

// ---------------------------------------------------------------------------------

export function runTransportContract(name: string, factory: ContractFactory): void {
  describe(`Transport contract: ${name}`, () => {
    let h: ContractHarness;
    /** Run before cleanup: releases handlers a test left blocked, so draining close() returns. */
    let releases: Array<() => void>;

    beforeEach(async () => {
      releases = [];
      h = await factory(uniqueNamespace(`contract-${name}`));
    });

    afterEach(async () => {
      for (const release of releases) release();
      await h.cleanup();
    });

    async function waitForDeadLetters(sub: Subscription, count: number): Promise<ContractDeadLetter[]> {
      const seen: ContractDeadLetter[] = [];
      await eventually(async () => {
        seen.push(...(await h.readDeadLetters(sub)));
        expect(seen.length).toBeGreaterThanOrEqual(count);
      });
      return seen;
    }

    // -------------------------------------------------------------------------------
    describe('lifecycle', () => {
      it('start() and close() are idempotent and the state says so', async () => {
        const t = await h.transport();
        expect(t.state).toBe('connected');
        await t.start();
        expect(t.state).toBe('connected');
        const states: TransportState[] = [];
        t.on('state', (s) => states.push(s));
        await Promise.all([t.close(), t.close()]);
        await t.close();
        expect(t.state).toBe('closed');
        expect(states.filter((s) => s === 'closed')).toHaveLength(1);
      });

      it('a closed transport refuses work with UNAVAILABLE', async () => {
        const t = await h.transport();
        await t.close();
        const pub = await rejection(t.publish('contract.closed', { n: 1 }));
        expect(pub.canonical).toBe('UNAVAILABLE');
        const call = await rejection(t.call('nobody', 'm', {}));
        expect(call.canonical).toBe('UNAVAILABLE');
      });

      it('rejects bad subscribe options with INVALID_ARGUMENT (INVALID_OPTIONS)', async () => {
        const t = await h.transport();
        const noGroup = await rejection(t.subscribe('contract.opts', () => {}, { group: '' }));
        expect(noGroup.canonical).toBe('INVALID_ARGUMENT');
        const badRetry = await rejection(
          t.subscribe('contract.opts', () => {}, { group: 'g', retry: { attempts: 0 } }),
        );
        expect(badRetry.canonical).toBe('INVALID_ARGUMENT');
        const badPrefetch = await rejection(t.subscribe('contract.opts', () => {}, { group: 'g', prefetch: 0 }));
        expect(badPrefetch.canonical).toBe('INVALID_ARGUMENT');
      });
    });

    // -------------------------------------------------------------------------------
    describe('events', () => {
      it('round trip: id, topic, headers, source, attempt 1, not redelivered, a serialised copy', async () => {
        const t = await h.transport();
        const got = deferred<IncomingEvent>();
        await t.subscribe('orders.created', (e) => got.resolve(e), { group: 'billing' });
        const payload = { orderId: 42, at: new Date('2030-01-02T03:04:05.000Z'), items: ['a', 'b'] };
        const before = Date.now();
        const receipt = await t.publish('orders.created', payload, {
          messageId: 'msg-1',
          source: 'orders',
          headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        });
        expect(receipt.messageId).toBe('msg-1');
        const e = await got.promise;
        expect(e.id).toBe('msg-1');
        expect(e.topic).toBe('orders.created');
        // JSON really happened: the Date arrives as its ISO string, in a different object.
        expect(e.payload).toEqual({ orderId: 42, at: '2030-01-02T03:04:05.000Z', items: ['a', 'b'] });
        expect(e.payload).not.toBe(payload);
        expect(e.headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
        expect(e.headers['x-source']).toBe('orders');
        expect(e.contentType).toBe('application/json');
        expect(e.attempt).toBe(1);
        expect(e.redelivered).toBe(false);
        expect(typeof e.timestamp).toBe('number');
        // AMQP timestamps have second precision: a generous window.
        expect(Math.abs((e.timestamp ?? 0) - before)).toBeLessThan(5000);
      });

      it('a publish without messageId gets a fresh id that the subscriber sees', async () => {
        const t = await h.transport();
        const ids: string[] = [];
        await t.subscribe('contract.ids', (e) => void ids.push(e.id), { group: 'g' });
        const a = await t.publish('contract.ids', 1);
        const b = await t.publish('contract.ids', 2);
        expect(a.messageId).toBeTruthy();
        expect(a.messageId).not.toBe(b.messageId);
        await eventually(() => expect(ids.sort()).toEqual([a.messageId, b.messageId].sort()));
      });

      it('msgpack events keep binary data', async () => {
        const t = await h.transport();
        const got = deferred<IncomingEvent>();
        await t.subscribe('contract.bin', (e) => got.resolve(e), { group: 'g' });
        await t.publish('contract.bin', { blob: new Uint8Array([1, 2, 255]) }, { contentType: 'application/msgpack' });
        const e = await got.promise;
        expect(e.contentType).toBe('application/msgpack');
        const blob = (e.payload as { blob: Uint8Array }).blob;
        expect(blob).toBeInstanceOf(Uint8Array);
        expect([...blob]).toEqual([1, 2, 255]);
      });

      it('rejects UNROUTABLE when no group subscribes to the topic', async () => {
        const t = await h.transport();
        await t.subscribe('contract.routed', () => {}, { group: 'g' });
        const err = await rejection(t.publish('contract.not-routed', { n: 1 }));
        expect(err.code).toBe('UNROUTABLE');
        await expect(t.publish('contract.routed', { n: 1 })).resolves.toBeTruthy();
      });

      it('routes by AMQP topic patterns: * is one word, # is zero or more', async () => {
        const t = await h.transport();
        const star: string[] = [];
        const hash: string[] = [];
        await t.subscribe('shop.*', (e) => void star.push(e.topic), { group: 'star' });
        await t.subscribe('shop.#', (e) => void hash.push(e.topic), { group: 'hash' });
        for (const topic of ['shop.order', 'shop.order.eu', 'shop']) await t.publish(topic, {});
        await eventually(() => expect(hash.sort()).toEqual(['shop', 'shop.order', 'shop.order.eu']));
        expect(star).toEqual(['shop.order']);
      });

      it('every group gets every event', async () => {
        const t = await h.transport();
        const a: number[] = [];
        const b: number[] = [];
        await t.subscribe('contract.fanout', (e) => void a.push(e.payload as number), { group: 'a' });
        await t.subscribe('contract.fanout', (e) => void b.push(e.payload as number), { group: 'b' });
        for (let i = 0; i < 10; i++) await t.publish('contract.fanout', i);
        await eventually(() => {
          expect(a.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
          expect(b.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        });
      });

      it('instances in one group compete: each gets some, together all, none twice', async () => {
        const t1 = await h.transport();
        const t2 = await h.transport();
        const seen1: number[] = [];
        const seen2: number[] = [];
        await t1.subscribe('contract.compete', (e) => void seen1.push(e.payload as number), { group: 'workers' });
        await t2.subscribe('contract.compete', (e) => void seen2.push(e.payload as number), { group: 'workers' });
        const n = 20;
        for (let i = 0; i < n; i++) await t1.publish('contract.compete', i);
        await eventually(() => expect(seen1.length + seen2.length).toBe(n));
        await sleep(100); // a duplicate would show up now
        expect(seen1.length + seen2.length).toBe(n);
        expect(new Set([...seen1, ...seen2]).size).toBe(n);
        expect(seen1.length).toBeGreaterThan(0);
        expect(seen2.length).toBeGreaterThan(0);
        console.log(`[${name}] competing subscribers split ${n} events as ${seen1.length}/${seen2.length}`);
      });

      it('a handler failure is retried with backoff and succeeds on attempt 3, same id', async () => {
        const t = await h.transport();
        const attempts: Array<{ attempt: number; id: string; at: number }> = [];
        const done = deferred();
        await t.subscribe(
          'contract.retry',
          (e) => {
            attempts.push({ attempt: e.attempt, id: e.id, at: Date.now() });
            if (e.attempt < 3) throw new Error(`transient failure ${e.attempt}`);
            done.resolve();
          },
          { group: 'g', retry: { attempts: 5, initialDelayMs: 50, factor: 2, maxDelayMs: 1000 } },
        );
        await t.publish('contract.retry', { n: 1 }, { messageId: 'retry-1' });
        await done.promise;
        await sleep(200); // no further attempt after the success
        expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
        expect(new Set(attempts.map((a) => a.id))).toEqual(new Set(['retry-1']));
        // Delays 50 then 100 ms: at least ~150 ms between first and last attempt.
        const spent = attempts[2]!.at - attempts[0]!.at;
        expect(spent).toBeGreaterThanOrEqual(120);
        console.log(`[${name}] 3 attempts with 50/100 ms backoff took ${spent} ms`);
      });

      it('retries exhausted: the event is dead-lettered with the reason headers', async () => {
        const t = await h.transport();
        let calls = 0;
        const sub = await t.subscribe(
          'contract.poison',
          () => {
            calls++;
            throw new FailedPreconditionError('stock service said no');
          },
          { group: 'g', retry: FAST_RETRY },
        );
        await t.publish('contract.poison', { sku: 'x1' }, { messageId: 'poison-1', source: 'shop' });
        const [dead] = await waitForDeadLetters(sub, 1);
        expect(calls).toBe(3);
        expect(dead!.id).toBe('poison-1');
        expect(dead!.payload).toEqual({ sku: 'x1' });
        expect(dead!.headers['x-death-reason']).toBe('handler-failed');
        expect(dead!.headers['x-error-code']).toBe('FAILED_PRECONDITION');
        expect(dead!.headers['x-error-message']).toContain('stock service said no');
        expect(dead!.headers['x-attempt']).toBe('3');
        expect(dead!.headers['x-original-topic']).toBe('contract.poison');
        expect(`${dead!.headers['x-original-queue']}.dlq`).toBe(sub.deadLetterQueue);
        expect(Number.isNaN(Date.parse(dead!.headers['x-dead-lettered-at'] ?? ''))).toBe(false);
        await sleep(200);
        expect(calls).toBe(3); // nothing after the dead-letter
      });

      it('a payload failing validate() is dead-lettered at once with reason invalid; the handler never runs', async () => {
        const t = await h.transport();
        let handled = 0;
        const sub = await t.subscribe('contract.invalid', () => void handled++, {
          group: 'g',
          retry: FAST_RETRY,
          validate: (p) => {
            if (typeof (p as { qty?: unknown }).qty !== 'number')
              throw validationError('event', [{ pointer: '/qty', message: 'must be a number' }]);
          },
        });
        await t.publish('contract.invalid', { qty: 'many' }, { messageId: 'bad-1' });
        await t.publish('contract.invalid', { qty: 3 }, { messageId: 'good-1' });
        const [dead] = await waitForDeadLetters(sub, 1);
        expect(dead!.id).toBe('bad-1');
        expect(dead!.payload).toEqual({ qty: 'many' });
        expect(dead!.headers['x-death-reason']).toBe('invalid');
        expect(dead!.headers['x-error-code']).toBe('INVALID_ARGUMENT');
        expect(dead!.headers['x-error-message']).toContain('/qty');
        expect(dead!.headers['x-attempt']).toBe('1');
        await eventually(() => expect(handled).toBe(1));
        await sleep(150);
        expect(await h.readDeadLetters(sub)).toEqual([]);
      });

      it('prefetch bounds the handlers running at once per subscriber', async () => {
        const t = await h.transport();
        let running = 0;
        let peak = 0;
        let done = 0;
        await t.subscribe(
          'contract.prefetch',
          async () => {
            running++;
            peak = Math.max(peak, running);
            await sleep(30);
            running--;
            done++;
          },
          { group: 'g', prefetch: 2 },
        );
        for (let i = 0; i < 8; i++) await t.publish('contract.prefetch', i);
        await eventually(() => expect(done).toBe(8));
        expect(peak).toBe(2);
      });

      it('events wait in the group queue while no instance is subscribed', async () => {
        const t1 = await h.transport();
        const first = await t1.subscribe('contract.durable', () => {}, { group: 'g' });
        await first.close();
        await t1.publish('contract.durable', { n: 1 }, { messageId: 'kept-1' });
        await t1.publish('contract.durable', { n: 2 }, { messageId: 'kept-2' });
        const t2 = await h.transport();
        const ids: string[] = [];
        await t2.subscribe('contract.durable', (e) => void ids.push(e.id), { group: 'g' });
        await eventually(() => expect(ids).toEqual(['kept-1', 'kept-2']));
      });

      it('a subscriber that closes loses nothing: the others in its group get the rest', async () => {
        const t1 = await h.transport();
        const t2 = await h.transport();
        const seen1: number[] = [];
        const seen2: number[] = [];
        const handler = (seen: number[]) => async (e: IncomingEvent) => {
          await sleep(10);
          seen.push(e.payload as number);
        };
        const sub1 = await t1.subscribe('contract.handover', handler(seen1), { group: 'g', prefetch: 2 });
        await t2.subscribe('contract.handover', handler(seen2), { group: 'g', prefetch: 2 });
        const n = 30;
        for (let i = 0; i < n; i++) await t1.publish('contract.handover', i);
        await eventually(() => expect(seen1.length).toBeGreaterThan(0));
        await sub1.close();
        const afterClose = seen1.length;
        await eventually(() => expect(seen1.length + seen2.length).toBe(n));
        expect(new Set([...seen1, ...seen2]).size).toBe(n);
        expect(seen1.length).toBe(afterClose); // close() waited for its handlers; none ran after
      });
    });

    // -------------------------------------------------------------------------------
    describe('rpc', () => {
      const echo = {
        echo: {
          handler: (req: IncomingRequest) => ({
            payload: req.payload,
            contentType: req.contentType,
            method: req.method,
            service: req.service,
            caller: req.headers['x-caller'] ?? null,
            hasDeadline: typeof req.deadline === 'number',
          }),
        },
      };

      it('unary round trip with JSON', async () => {
        const server = await h.transport();
        const client = await h.transport();
        await server.serve('echo-svc', echo);
        const reply = await client.call(
          'echo-svc',
          'echo',
          { at: new Date('2030-01-01T00:00:00.000Z'), n: 1 },
          { headers: { 'x-caller': 'alice' }, timeoutMs: 5000 },
        );
        expect(reply).toEqual({
          payload: { at: '2030-01-01T00:00:00.000Z', n: 1 },
          contentType: 'application/json',
          method: 'echo',
          service: 'echo-svc',
          caller: 'alice',
          hasDeadline: true,
        });
      });

      it('unary round trip with msgpack keeps binary data both ways', async () => {
        const server = await h.transport();
        const client = await h.transport();
        await server.serve('echo-svc', echo);
        const reply = (await client.call(
          'echo-svc',
          'echo',
          { blob: new Uint8Array([9, 8, 7]) },
          { contentType: 'application/msgpack' },
        )) as { payload: { blob: Uint8Array }; contentType: string };
        expect(reply.contentType).toBe('application/msgpack');
        expect(reply.payload.blob).toBeInstanceOf(Uint8Array);
        expect([...reply.payload.blob]).toEqual([9, 8, 7]);
      });

      it('competing servers share the calls', async () => {
        const s1 = await h.transport();
        const s2 = await h.transport();
        const client = await h.transport();
        const hits = { s1: 0, s2: 0 };
        await s1.serve('shared', {
          who: {
            handler: () => {
              hits.s1++;
              return 's1';
            },
          },
        });
        await s2.serve('shared', {
          who: {
            handler: () => {
              hits.s2++;
              return 's2';
            },
          },
        });
        const n = 20;
        const replies = await Promise.all(Array.from({ length: n }, () => client.call('shared', 'who', null)));
        expect(replies.filter((r) => r === 's1')).toHaveLength(hits.s1);
        expect(hits.s1 + hits.s2).toBe(n);
        expect(hits.s1).toBeGreaterThan(0);
        expect(hits.s2).toBeGreaterThan(0);
        console.log(`[${name}] competing servers split ${n} calls as ${hits.s1}/${hits.s2}`);
      });

      it('fails fast with UNAVAILABLE when no server runs, also after the last one closed', async () => {
        const client = await h.transport();
        const t0 = Date.now();
        const err = await rejection(client.call('nobody-home', 'm', {}, { timeoutMs: 20_000 }));
        const spent = Date.now() - t0;
        expect(err.code).toBe('UNAVAILABLE');
        expect(spent).toBeLessThan(5000);

        const server = await (await h.transport()).serve('short-lived', { m: { handler: () => 1 } });
        expect(await client.call('short-lived', 'm', {})).toBe(1);
        await server.close();
        const t1 = Date.now();
        const after = await rejection(client.call('short-lived', 'm', {}, { timeoutMs: 20_000 }));
        expect(after.code).toBe('UNAVAILABLE');
        expect(Date.now() - t1).toBeLessThan(5000);
        console.log(`[${name}] UNAVAILABLE with no server after ${spent} ms`);
      });

      it('deadline: the caller gets DEADLINE_EXCEEDED and the handler signal aborts', async () => {
        const server = await h.transport();
        const client = await h.transport();
        const aborted = deferred<number>();
        let seenDeadline: number | undefined;
        await server.serve('slow', {
          wait: {
            handler: (req) =>
              new Promise((resolve) => {
                seenDeadline = req.deadline;
                req.signal.addEventListener('abort', () => {
                  aborted.resolve(Date.now());
                  resolve('too late');
                });
              }),
          },
        });
        const t0 = Date.now();
        const err = await rejection(client.call('slow', 'wait', {}, { timeoutMs: 300 }));
        const spent = Date.now() - t0;
        expect(err.code).toBe('DEADLINE_EXCEEDED');
        expect(spent).toBeGreaterThanOrEqual(250);
        expect(spent).toBeLessThan(5000);
        expect(seenDeadline).toBeGreaterThan(t0);
        expect(seenDeadline).toBeLessThanOrEqual(t0 + 300 + 50);
        const abortAt = await aborted.promise;
        expect(abortAt - t0).toBeLessThan(5000);
      });

      it('an absolute deadline earlier than timeoutMs wins', async () => {
        const server = await h.transport();
        const client = await h.transport();
        await server.serve('slow2', {
          wait: { handler: (req) => new Promise((resolve) => req.signal.addEventListener('abort', resolve)) },
        });
        const t0 = Date.now();
        const err = await rejection(client.call('slow2', 'wait', {}, { timeoutMs: 20_000, deadline: t0 + 200 }));
        expect(err.code).toBe('DEADLINE_EXCEEDED');
        expect(Date.now() - t0).toBeLessThan(5000);
      });

      it('waitForReady: a call on a connected transport is sent at once; a non-boolean is INVALID_ARGUMENT', async () => {
        const server = await h.transport();
        const client = await h.transport();
        await server.serve('ready', { echo: { handler: (req) => req.payload } });
        await expect(client.call('ready', 'echo', 7, { waitForReady: true })).resolves.toBe(7);
        const err = await rejection(
          client.call('ready', 'echo', 7, { waitForReady: 'yes' as unknown as boolean, timeoutMs: 1000 }),
        );
        expect(err.code).toBe('INVALID_ARGUMENT');
        expect(err.message).toMatch(/waitForReady must be a boolean/);
      });

      it('a request whose deadline passed while queued never runs', async () => {
        const server = await h.transport();
        const client = await h.transport();
        const release = deferred();
        releases.push(() => release.resolve());
        const ran: string[] = [];
        await server.serve(
          'single',
          {
            work: {
              handler: async (req) => {
                ran.push(req.payload as string);
                if (req.payload === 'blocker') await release.promise;
                return req.payload;
              },
            },
          },
          { prefetch: 1 },
        );
        const blocker = client.call('single', 'work', 'blocker', { timeoutMs: 10_000 });
        await eventually(() => expect(ran).toEqual(['blocker']));
        const late = await rejection(client.call('single', 'work', 'late', { timeoutMs: 150 }));
        expect(late.code).toBe('DEADLINE_EXCEEDED');
        release.resolve();
        expect(await blocker).toBe('blocker');
        expect(await client.call('single', 'work', 'next')).toBe('next');
        expect(ran).toEqual(['blocker', 'next']);
      });

      it('a SwitchyardError thrown by the handler reaches the caller with its code, message and details', async () => {
        const server = await h.transport();
        const client = await h.transport();
        await server.serve('orders', {
          get: {
            handler: () => {
              throw new NotFoundError('order 42 not found', { details: { orderId: 42 } });
            },
          },
        });
        const err = await rejection(client.call('orders', 'get', { id: 42 }));
        expect(err.code).toBe('NOT_FOUND');
        expect(err.message).toBe('order 42 not found');
        expect(err.details).toEqual({ orderId: 42 });
      });

      it('a plain Error becomes INTERNAL with a generic message', async () => {
        const server = await h.transport();
        const client = await h.transport();
        await server.serve('leaky', {
          boom: {
            handler: () => {
              throw new Error('connect ECONNREFUSED db:5432 password=hunter2');
            },
          },
        });
        const err = await rejection(client.call('leaky', 'boom', {}));
        expect(err.code).toBe('INTERNAL');
        expect(err.message).not.toContain('hunter2');
        expect(err.message).not.toContain('ECONNREFUSED');
      });

      it('an unknown method is UNIMPLEMENTED', async () => {
        const server = await h.transport();
        const client = await h.transport();
        await server.serve('svc', { known: { handler: () => 1 } });
        const err = await rejection(client.call('svc', 'unknown', {}));
        expect(err.code).toBe('UNIMPLEMENTED');
      });

      it('validateRequest failure is INVALID_ARGUMENT with details, without running the handler', async () => {
        const server = await h.transport();
        const client = await h.transport();
        let ran = 0;
        await server.serve('inventory', {
          reserve: {
            validateRequest: (p) => {
              const qty = (p as { qty?: unknown }).qty;
              if (typeof qty !== 'number' || qty < 1)
                throw validationError('request', [{ pointer: '/qty', message: 'must be >= 1' }]);
            },
            handler: () => {
              ran++;
              return { ok: true };
            },
          },
        });
        const err = await rejection(client.call('inventory', 'reserve', { qty: 0 }));
        expect(err.code).toBe('INVALID_ARGUMENT');
        expect(err.details).toEqual({ violations: [{ pointer: '/qty', message: 'must be >= 1' }] });
        expect(ran).toBe(0);
        expect(await client.call('inventory', 'reserve', { qty: 2 })).toEqual({ ok: true });
        expect(ran).toBe(1);
      });

      it('validateResponse failure is INTERNAL instead of bad data', async () => {
        const server = await h.transport();
        const client = await h.transport();
        await server.serve('buggy', {
          get: {
            handler: () => ({ price: 'free' }),
            validateResponse: (p) => {
              if (typeof (p as { price?: unknown }).price !== 'number')
                throw new InvalidArgumentError('price must be a number');
            },
          },
        });
        const err = await rejection(client.call('buggy', 'get', {}));
        expect(err.code).toBe('INTERNAL');
      });

      it('server close() drains: a call in flight still gets its reply, then new calls fail UNAVAILABLE', async () => {
        const serverT = await h.transport();
        const client = await h.transport();
        const started = deferred();
        let finished = false;
        const server = await serverT.serve('draining', {
          work: {
            handler: async () => {
              started.resolve();
              await sleep(300);
              finished = true;
              return 'done';
            },
          },
        });
        const call = client.call('draining', 'work', {}, { timeoutMs: 10_000 });
        await started.promise;
        const closing = server.close().then(() => finished);
        expect(await call).toBe('done');
        expect(await closing).toBe(true); // close() resolved only after the handler finished
        await server.close(); // idempotent
        const err = await rejection(client.call('draining', 'work', {}, { timeoutMs: 10_000 }));
        expect(err.code).toBe('UNAVAILABLE');
      });

      it('transport close() fails pending calls with UNAVAILABLE', async () => {
        const serverT = await h.transport();
        const client = await h.transport();
        const release = deferred();
        releases.push(() => release.resolve());
        const started = deferred();
        await serverT.serve('stuck', {
          wait: {
            handler: async () => {
              started.resolve();
              await release.promise;
              return 'late';
            },
          },
        });
        const call = rejection(client.call('stuck', 'wait', {}, { timeoutMs: 20_000 }));
        await started.promise;
        const t0 = Date.now();
        await client.close();
        const err = await call;
        expect(err.canonical).toBe('UNAVAILABLE');
        expect(Date.now() - t0).toBeLessThan(5000);
      });

      // -----------------------------------------------------------------------------
      describe('streaming', () => {
        it('delivers items in order, then ends', async () => {
          const server = await h.transport();
          const client = await h.transport();
          await server.serve('counter', {
            count: {
              streaming: true,
              handler: async function* (req) {
                const { to } = req.payload as { to: number };
                for (let i = 0; i < to; i++) yield { i };
              },
            },
          });
          const items: unknown[] = [];
          for await (const item of client.stream('counter', 'count', { to: 50 }, { window: 8 })) items.push(item);
          expect(items).toEqual(Array.from({ length: 50 }, (_, i) => ({ i })));
        });

        it('an error thrown mid-stream reaches the caller after the items before it', async () => {
          const server = await h.transport();
          const client = await h.transport();
          await server.serve('flaky', {
            run: {
              streaming: true,
              handler: async function* () {
                yield 1;
                yield 2;
                throw new NotFoundError('page 3 is gone');
              },
            },
          });
          const { items, error } = await drainUntilError(client.stream('flaky', 'run', {}));
          expect(items).toEqual([1, 2]);
          expect(isSwitchyardError(error, 'NOT_FOUND')).toBe(true);
        });

        it('breaking out of the loop cancels the stream on the server', async () => {
          const server = await h.transport();
          const client = await h.transport();
          const cancelled = deferred();
          let signal: AbortSignal | undefined;
          await server.serve('infinite', {
            run: {
              streaming: true,
              handler: async function* (req) {
                signal = req.signal;
                try {
                  for (let i = 0; ; i++) {
                    yield i;
                    await sleep(2);
                  }
                } finally {
                  cancelled.resolve();
                }
              },
            },
          });
          const got: unknown[] = [];
          for await (const item of client.stream('infinite', 'run', {}, { window: 4, timeoutMs: 20_000 })) {
            got.push(item);
            if (got.length === 3) break;
          }
          expect(got).toEqual([0, 1, 2]);
          await Promise.race([
            cancelled.promise,
            sleep(5000).then(() => {
              throw new Error('the generator was not closed within 5 s of the cancel');
            }),
          ]);
          await eventually(() => expect(signal?.aborted).toBe(true));
        });

        it('the window bounds how far the server runs ahead of the caller', async () => {
          const server = await h.transport();
          const client = await h.transport();
          let produced = 0;
          await server.serve('firehose', {
            run: {
              streaming: true,
              handler: async function* () {
                for (let i = 0; i < 100; i++) {
                  produced++;
                  yield i;
                }
              },
            },
          });
          const window = 4;
          const it = client.stream('firehose', 'run', {}, { window, timeoutMs: 20_000 });
          const first = await it.next();
          expect(first.value).toBe(0);
          await sleep(300); // room to run ahead, if nothing held it back
          const aheadBy = produced - 1;
          expect(aheadBy).toBeLessThanOrEqual(window + 2);
          const rest: unknown[] = [];
          for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
          expect(rest).toEqual(Array.from({ length: 99 }, (_, i) => i + 1));
          console.log(`[${name}] stream window ${window}: server produced ${aheadBy} items ahead of the caller`);
        });

        it('the deadline bounds the whole stream', async () => {
          const server = await h.transport();
          const client = await h.transport();
          const aborted = deferred();
          await server.serve('trickle', {
            run: {
              streaming: true,
              handler: async function* (req) {
                req.signal.addEventListener('abort', () => aborted.resolve());
                for (let i = 0; !req.signal.aborted; i++) {
                  yield i;
                  await sleep(50);
                }
              },
            },
          });
          const t0 = Date.now();
          const { items, error } = await drainUntilError(client.stream('trickle', 'run', {}, { timeoutMs: 400 }));
          expect(isSwitchyardError(error, 'DEADLINE_EXCEEDED')).toBe(true);
          expect(items.length).toBeGreaterThan(0);
          expect(Date.now() - t0).toBeLessThan(5000);
          await aborted.promise;
        });

        it('no server: the stream fails UNAVAILABLE', async () => {
          const client = await h.transport();
          const { error } = await drainUntilError(client.stream('nobody-streams', 'run', {}, { timeoutMs: 20_000 }));
          expect(isSwitchyardError(error, 'UNAVAILABLE')).toBe(true);
        });
      });
    });
  });
}
