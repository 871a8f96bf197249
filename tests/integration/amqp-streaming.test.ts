/**
 * Server-streaming RPC on RabbitMQ: order, cancel on break, flow control, msgpack.
 */
import { AmqpTransport, type IncomingRequest } from '@switchyard/broker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deleteNamespaces } from '../fixtures/amqp-broker.js';
import { uniqueNamespace } from '../harness/servers.js';

const url = inject('amqpUrl');
const namespace = uniqueNamespace('amqp-stream');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let server: AmqpTransport;
let client: AmqpTransport;

/** What the `ticks` stream's server side saw, per call. */
const ticks = { produced: 0, signal: undefined as AbortSignal | undefined, closed: false };

beforeAll(async () => {
  server = new AmqpTransport({ url, namespace });
  client = new AmqpTransport({ url, namespace });
  await Promise.all([server.start(), client.start()]);
  await server.serve('feed', {
    count: {
      streaming: true,
      handler: async function* (req: IncomingRequest) {
        const { to } = req.payload as { to: number };
        for (let i = 0; i < to; i++) yield { i };
      },
    },
    ticks: {
      streaming: true,
      handler: async function* (req: IncomingRequest) {
        ticks.produced = 0;
        ticks.closed = false;
        ticks.signal = req.signal;
        try {
          for (let i = 0; ; i++) {
            ticks.produced++;
            yield i;
          }
        } finally {
          ticks.closed = true;
        }
      },
    },
    blobs: {
      streaming: true,
      handler: async function* (req: IncomingRequest) {
        const { n } = req.payload as { n: number };
        for (let i = 0; i < n; i++) yield { contentType: req.contentType, bytes: new Uint8Array([i, 255 - i, 0]) };
      },
    },
  });
});

afterAll(async () => {
  await Promise.all([server?.close(), client?.close()]);
  await deleteNamespaces(url, [namespace]);
}, 60_000);

describe('streaming', () => {
  it('delivers items in order', async () => {
    const got: number[] = [];
    for await (const item of client.stream('feed', 'count', { to: 1000 }, { window: 16 }))
      got.push((item as { i: number }).i);
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('break early: the handler signal aborts and the generator is closed', async () => {
    const got: unknown[] = [];
    for await (const item of client.stream('feed', 'ticks', {}, { window: 8, timeoutMs: 20_000 })) {
      got.push(item);
      if (got.length === 5) break;
    }
    expect(got).toEqual([0, 1, 2, 3, 4]);
    for (let i = 0; i < 250 && !ticks.closed; i++) await sleep(20);
    expect(ticks.closed).toBe(true);
    expect(ticks.signal?.aborted).toBe(true);
    const producedAtCancel = ticks.produced;
    await sleep(200);
    expect(ticks.produced).toBe(producedAtCancel); // nothing more after the cancel
  });

  it('bounded buffering: a slow consumer holds the server back to the window', async () => {
    const window = 8;
    let maxAhead = 0;
    let consumed = 0;
    for await (const _ of client.stream('feed', 'ticks', {}, { window, timeoutMs: 20_000 })) {
      consumed++;
      await sleep(15); // slow consumer
      maxAhead = Math.max(maxAhead, ticks.produced - consumed);
      if (consumed === 40) break;
    }
    // The server may run at most `window` items beyond what the caller has consumed.
    expect(maxAhead).toBeLessThanOrEqual(window);
    expect(maxAhead).toBeGreaterThan(0);
    console.log(`[amqp] stream window ${window}: server ran at most ${maxAhead} items ahead of a slow caller`);
  });

  it('msgpack round trip keeps binary items', async () => {
    const items: Array<{ contentType: string; bytes: Uint8Array }> = [];
    for await (const item of client.stream('feed', 'blobs', { n: 5 }, { contentType: 'application/msgpack' }))
      items.push(item as { contentType: string; bytes: Uint8Array });
    expect(items).toHaveLength(5);
    items.forEach((item, i) => {
      expect(item.contentType).toBe('application/msgpack');
      expect(item.bytes).toBeInstanceOf(Uint8Array);
      expect([...item.bytes]).toEqual([i, 255 - i, 0]);
    });
  });
});
