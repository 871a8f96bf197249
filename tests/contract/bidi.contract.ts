/**
 * The bidi contract (docs/protocol.md §9): one suite every Transport runs, so the memory
 * bus and RabbitMQ keep the same rules for bidirectional and client-streaming calls —
 * ordering per direction, credit each way, half-close both ways, cancel from either side,
 * deadline, kind mismatches, invalid items in either direction, heartbeats that keep an
 * idle stream alive. Killing a server process mid-stream is AMQP-only
 * (tests/integration/amqp-bidi-peer-loss.test.ts).
 *
 * Counting assertions ("the producer is held at the window") are bounds, never times.
 */
import {
  type BidiCall,
  CancelledError,
  type IncomingRequest,
  InvalidArgumentError,
  isSwitchyardError,
  type MethodDefinition,
  type Transport,
} from '@switchyard/broker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uniqueNamespace } from '../harness/servers.js';
import {
  type ContractFactory,
  type ContractHarness,
  deferred,
  eventually,
  rejection,
  sleep,
} from './transport.contract.js';

const HEARTBEAT_MS = 1_000;

async function collect(call: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const x of call) out.push(x);
  return out;
}

function input(req: IncomingRequest): AsyncIterableIterator<unknown> {
  if (!req.input) throw new Error('bidi request without input');
  return req.input;
}

export function runBidiContract(name: string, factory: ContractFactory): void {
  describe(`bidi contract: ${name}`, () => {
    let harness: ContractHarness;
    let server: Transport;
    let caller: Transport;
    let svc: string;

    beforeEach(async () => {
      harness = await factory(uniqueNamespace(`bidi-${name}`));
      server = await harness.transport();
      caller = await harness.transport();
      svc = `bidi-${Math.random().toString(36).slice(2, 8)}`;
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    const serve = (methods: Record<string, MethodDefinition>) => server.serve(svc, methods);
    const open = (method: string, o: Parameters<Transport['bidi']>[2] = {}): BidiCall =>
      caller.bidi(svc, method, { heartbeatMs: HEARTBEAT_MS, ...o });

    it('keeps each direction in order, and the caller ending its input lets the server answer last', async () => {
      const seen: unknown[] = [];
      await serve({
        echo: {
          bidi: 'bidi',
          async *handler(req) {
            for await (const x of input(req)) {
              seen.push(x);
              yield { echo: x };
            }
            yield { count: seen.length };
          },
        },
      });
      const call = open('echo');
      const replies = collect(call);
      for (let i = 0; i < 200; i++) await call.send(i);
      await call.end();
      const out = await replies;
      expect(seen).toEqual([...Array(200).keys()]);
      expect(out).toEqual([...[...Array(200).keys()].map((i) => ({ echo: i })), { count: 200 }]);
    });

    it('client streaming: many items in, one reply out', async () => {
      await serve({
        total: {
          bidi: 'client',
          async handler(req) {
            let sum = 0;
            for await (const x of input(req)) sum += x as number;
            return { sum };
          },
        },
      });
      const call = open('total', { kind: 'client' });
      for (let i = 1; i <= 100; i++) await call.send(i);
      await call.end();
      expect(await collect(call)).toEqual([{ sum: 5050 }]);
    });

    it("holds the caller's sends at the server's input window while the handler does not read", async () => {
      const go = deferred();
      let read = 0;
      await serve({
        slow: {
          bidi: 'client',
          inputWindow: 4,
          async handler(req) {
            await go.promise;
            for await (const _ of input(req)) read++;
            return read;
          },
        },
      });
      const call = open('slow', { kind: 'client' });
      let sent = 0;
      const sends = Array.from({ length: 20 }, (_, i) => call.send(i).then(() => sent++));
      await eventually(() => expect(sent).toBe(4));
      await sleep(200);
      expect(sent).toBe(4); // still held: nothing past the window went out
      go.resolve();
      await Promise.all(sends);
      await call.end();
      expect(await collect(call)).toEqual([20]);
    });

    it("holds the server's output at the caller's window while the caller does not read", async () => {
      let produced = 0;
      await serve({
        firehose: {
          bidi: 'bidi',
          async *handler() {
            for (;;) {
              produced++;
              yield produced;
            }
          },
        },
      });
      const call = open('firehose', { window: 4 });
      const first = await call.next();
      expect(first.value).toBe(1);
      await sleep(300);
      // One item taken, and the window: credit comes back in batches of half the window.
      expect(produced).toBeLessThanOrEqual(4 + 2 + 1);
      const more: unknown[] = [];
      for await (const x of call) {
        more.push(x);
        if (more.length === 50) break;
      }
      expect(more).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    });

    it("the server's end ends the call: the caller's iterator finishes and later sends fail FAILED_PRECONDITION", async () => {
      await serve({
        two: {
          bidi: 'bidi',
          async *handler(req) {
            const it = input(req);
            yield (await it.next()).value;
            yield 'done';
          },
        },
      });
      const call = open('two');
      await call.send('a');
      expect(await collect(call)).toEqual(['a', 'done']);
      const err = await rejection(call.send('late'));
      expect(err).toMatchObject({ code: 'FAILED_PRECONDITION' });
    });

    it("a caller's cancel aborts the handler and its input; the caller's next() fails CANCELLED", async () => {
      const aborted = deferred<unknown>();
      const inputError = deferred<unknown>();
      await serve({
        hold: {
          bidi: 'bidi',
          async *handler(req) {
            req.signal.addEventListener('abort', () => aborted.resolve(req.signal.reason));
            try {
              for await (const x of input(req)) yield x;
            } catch (err) {
              inputError.resolve(err);
              throw err;
            }
          },
        },
      });
      const call = open('hold');
      await call.send(1);
      expect((await call.next()).value).toBe(1);
      const pending = call.next();
      call.cancel('user left');
      expect(await rejection(pending)).toMatchObject({ code: 'CANCELLED' });
      expect(await aborted.promise).toMatchObject({ code: 'CANCELLED' });
      expect(await inputError.promise).toMatchObject({ code: 'CANCELLED' });
      expect(await rejection(call.send(2))).toMatchObject({ code: 'CANCELLED' });
    });

    it('breaking out of the loop cancels the stream on the server', async () => {
      const aborted = deferred<unknown>();
      await serve({
        ticks: {
          bidi: 'bidi',
          async *handler(req) {
            req.signal.addEventListener('abort', () => aborted.resolve(req.signal.reason));
            for (let i = 0; ; i++) yield i;
          },
        },
      });
      const call = open('ticks');
      for await (const x of call) if (x === 3) break;
      expect(await aborted.promise).toMatchObject({ code: 'CANCELLED' });
    });

    it("a server's cancel reaches the caller as CANCELLED, and ends the caller's sending", async () => {
      await serve({
        refuse: {
          bidi: 'bidi',
          // Throwing before returning its output: the stream ends the same way as from a generator.
          async handler(req) {
            await input(req).next();
            throw new CancelledError('the server stopped this conversation');
          },
        },
      });
      const call = open('refuse');
      await call.send('hello');
      const err = await rejection(call.next());
      expect(err).toMatchObject({ code: 'CANCELLED', message: 'the server stopped this conversation' });
      expect(await rejection(call.send('more'))).toMatchObject({ code: 'CANCELLED' });
    });

    it('the deadline ends both directions: DEADLINE_EXCEEDED for the caller, an aborted signal for the handler', async () => {
      const aborted = deferred<unknown>();
      await serve({
        forever: {
          bidi: 'bidi',
          async *handler(req) {
            req.signal.addEventListener('abort', () => aborted.resolve(req.signal.reason));
            for await (const x of input(req)) yield x;
          },
        },
      });
      const call = open('forever', { timeoutMs: 400 });
      await call.send(1);
      expect((await call.next()).value).toBe(1);
      expect(await rejection(call.next())).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      expect(await aborted.promise).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    });

    it("an invalid caller item ends the stream with INVALID_ARGUMENT naming its seq; the handler's input throws it", async () => {
      const inputError = deferred<unknown>();
      await serve({
        checked: {
          bidi: 'bidi',
          validateRequest(item) {
            if (typeof item !== 'number') throw new InvalidArgumentError('must be a number');
          },
          async *handler(req) {
            try {
              for await (const x of input(req)) yield x;
            } catch (err) {
              inputError.resolve(err);
            }
          },
        },
      });
      const call = open('checked');
      await call.send(0);
      await call.send(1);
      await call.send('two');
      const items: unknown[] = [];
      const err = await rejection(
        (async () => {
          for await (const x of call) items.push(x);
        })(),
      );
      expect(items).toEqual([0, 1]);
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', details: { seq: 2, direction: 'request' } });
      expect((err as Error).message).toContain('#2');
      expect(await inputError.promise).toMatchObject({ code: 'INVALID_ARGUMENT', details: { seq: 2 } });
      expect(await rejection(call.send(3))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('an invalid server item ends the stream with INVALID_ARGUMENT naming its seq (direction response)', async () => {
      await serve({
        sloppy: {
          bidi: 'bidi',
          validateResponse(item) {
            if ((item as { n?: unknown }).n === undefined) throw new InvalidArgumentError('n is required');
          },
          async *handler() {
            yield { n: 0 };
            yield { n: 1 };
            yield { oops: true };
            yield { n: 3 };
          },
        },
      });
      const call = open('sloppy');
      const items: unknown[] = [];
      const err = await rejection(
        (async () => {
          for await (const x of call) items.push(x);
        })(),
      );
      expect(items).toEqual([{ n: 0 }, { n: 1 }]);
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', details: { seq: 2, direction: 'response' } });
    });

    it('refuses a call whose kind does not fit the method (FAILED_PRECONDITION), both ways', async () => {
      await serve({
        unary: { handler: () => 'plain' },
        chat: { bidi: 'bidi', handler: async function* () {} },
      });
      expect(await rejection(open('unary').next())).toMatchObject({ code: 'FAILED_PRECONDITION' });
      expect(await rejection(caller.call(svc, 'chat', {}))).toMatchObject({ code: 'FAILED_PRECONDITION' });
      expect(await rejection(caller.stream(svc, 'chat', {}).next())).toMatchObject({ code: 'FAILED_PRECONDITION' });
      expect(await rejection(open('chat', { kind: 'client' }).next())).toMatchObject({ code: 'FAILED_PRECONDITION' });
      expect(await rejection(open('missing').next())).toMatchObject({ code: 'UNIMPLEMENTED' });
    });

    it('fails UNAVAILABLE at once when no server runs the service', async () => {
      const call = caller.bidi(`${svc}-nobody`, 'chat', { heartbeatMs: 60_000 });
      const started = Date.now();
      expect(await rejection(call.next())).toMatchObject({ code: 'UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(30_000); // not the heartbeat: the missing queue says so
      expect(await rejection(call.send(1))).toMatchObject({ code: 'UNAVAILABLE' });
    });

    it('heartbeats keep a quiet stream alive well past its heartbeat interval', async () => {
      const later = deferred();
      await serve({
        quiet: {
          bidi: 'bidi',
          async *handler() {
            await later.promise;
            yield 'still here';
          },
        },
      });
      const call = caller.bidi(svc, 'quiet', { heartbeatMs: 300 });
      const first = call.next();
      await sleep(1_500); // five heartbeats with nothing but pings
      later.resolve();
      expect(await first).toEqual({ done: false, value: 'still here' });
      expect(await call.next()).toEqual({ done: true, value: undefined });
    });

    it('refuses bad options with INVALID_ARGUMENT before anything is sent', async () => {
      for (const o of [{ window: 0 }, { heartbeatMs: 10 }, { kind: 'server' }, { timeoutMs: -1 }]) {
        const err = await rejection(caller.bidi(svc, 'x', o as never).next());
        expect(isSwitchyardError(err, 'INVALID_ARGUMENT'), JSON.stringify(o)).toBe(true);
      }
    });

    it('a caller transport that closes fails its open streams UNAVAILABLE and the server lets go', async () => {
      const aborted = deferred<unknown>();
      await serve({
        hold: {
          bidi: 'bidi',
          async *handler(req) {
            req.signal.addEventListener('abort', () => aborted.resolve(req.signal.reason));
            for await (const x of input(req)) yield x;
          },
        },
      });
      const call = open('hold');
      await call.send(1);
      await call.next();
      const pending = rejection(call.next());
      await caller.close();
      expect(await pending).toMatchObject({ code: 'UNAVAILABLE' });
      expect(await aborted.promise).toBeTruthy();
    });
  });
}
