/**
 * AmqpTransport construction and lifecycle: options validated up front (naming the bad
 * option), start() bounded by connectTimeoutMs, work refused before start and after close.
 */
import { AmqpTransport, type AmqpTransportOptions, isSwitchyardError, type TransportState } from '@switchyard/broker';
import { pino } from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { deleteNamespaces } from '../fixtures/amqp-broker.js';
import { freePort } from '../harness/ports.js';
import { uniqueNamespace } from '../harness/servers.js';

const url = inject('amqpUrl');
const namespace = uniqueNamespace('amqp-lifecycle');

afterAll(async () => {
  await deleteNamespaces(url, [namespace]);
});

describe('AmqpTransport options', () => {
  const bad: Array<[string, Partial<AmqpTransportOptions>, string]> = [
    ['a missing url', { url: undefined }, 'url'],
    ['a non-AMQP url', { url: 'http://127.0.0.1:5672' }, 'url'],
    ['a namespace with spaces', { namespace: 'my space' }, 'namespace'],
    ['prefetch 0', { prefetch: 0 }, 'prefetch'],
    ['a fractional publishBufferSize', { publishBufferSize: 1.5 }, 'publishBufferSize'],
    ['a negative publishTimeoutMs', { publishTimeoutMs: -1 }, 'publishTimeoutMs'],
    ['defaultTimeoutMs as a string', { defaultTimeoutMs: '100' as unknown as number }, 'defaultTimeoutMs'],
    ['connectTimeoutMs 0', { connectTimeoutMs: 0 }, 'connectTimeoutMs'],
    ['drainTimeoutMs 0', { drainTimeoutMs: 0 }, 'drainTimeoutMs'],
    ['a negative heartbeat', { heartbeat: -5 }, 'heartbeat'],
    ['a default content type without a codec', { defaultContentType: 'text/csv' }, 'text/csv'],
    ['a logger without warn()', { logger: { debug() {}, info() {}, error() {} } as never }, 'logger'],
  ];
  it.each(bad)('rejects %s with INVALID_OPTIONS naming it', (_, override, named) => {
    let caught: unknown;
    try {
      new AmqpTransport({ url, ...override } as AmqpTransportOptions);
    } catch (err) {
      caught = err;
    }
    expect(isSwitchyardError(caught, 'INVALID_OPTIONS')).toBe(true);
    expect((caught as Error).message).toContain(named);
  });

  it('accepts a pino logger and documented defaults', () => {
    const t = new AmqpTransport({ url, logger: pino({ level: 'silent' }) });
    expect(t.namespace).toBe('switchyard');
    expect(t.kind).toBe('amqp');
    expect(t.state).toBe('idle');
  });
});

describe('AmqpTransport lifecycle', () => {
  it('start() gives up with UNAVAILABLE after connectTimeoutMs when RabbitMQ does not answer', async () => {
    const port = await freePort();
    const t = new AmqpTransport({ url: `amqp://guest:guest@127.0.0.1:${port}`, namespace, connectTimeoutMs: 700 });
    const t0 = Date.now();
    const err = await t.start().catch((e: unknown) => e);
    const spent = Date.now() - t0;
    expect(isSwitchyardError(err, 'UNAVAILABLE')).toBe(true);
    expect(spent).toBeGreaterThanOrEqual(600);
    expect(spent).toBeLessThan(5000);
    expect(t.state).toBe('idle');
    await t.close();
    expect(t.state).toBe('closed');
  });

  it('refuses work before start() and after close(), and reports its states', async () => {
    const t = new AmqpTransport({ url, namespace });
    const before = await t.publish('life.cycle', {}).catch((e: unknown) => e);
    expect(isSwitchyardError(before) && before.canonical).toBe('UNAVAILABLE');
    const states: TransportState[] = [];
    t.on('state', (s) => states.push(s));
    await Promise.all([t.start(), t.start()]);
    await t.start();
    expect(states).toEqual(['connecting', 'connected']);
    await t.close();
    expect(states).toEqual(['connecting', 'connected', 'closed']);
    const after = await t.call('svc', 'm', {}).catch((e: unknown) => e);
    expect(isSwitchyardError(after, 'CLOSED')).toBe(true);
    const streamed = await t
      .stream('svc', 'm', {})
      .next()
      .catch((e: unknown) => e);
    expect(isSwitchyardError(streamed, 'CLOSED')).toBe(true);
    await expect(t.start()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('AmqpTransport drain bound', () => {
  it('a server whose handler ignores its signal closes at drainTimeoutMs, and the request goes to another instance', async () => {
    const stuck = new AmqpTransport({ url, namespace, drainTimeoutMs: 300 });
    const healthy = new AmqpTransport({ url, namespace });
    const client = new AmqpTransport({ url, namespace });
    await Promise.all([stuck.start(), healthy.start(), client.start()]);
    try {
      let entered: () => void = () => {};
      const inHandler = new Promise<void>((r) => {
        entered = r;
      });
      const stuckServer = await stuck.serve('drain-bound', {
        work: {
          handler: () => {
            entered();
            return new Promise(() => {}); // never settles, ignores the abort signal
          },
        },
      });
      const reply = client.call('drain-bound', 'work', {}, { timeoutMs: 20_000 });
      await inHandler;
      const redelivered: boolean[] = [];
      await healthy.serve('drain-bound', {
        work: {
          handler: (req) => {
            redelivered.push(req.redelivered);
            return { by: 'healthy' };
          },
        },
      });
      const t0 = Date.now();
      await stuckServer.close();
      const closeMs = Date.now() - t0;
      expect(closeMs).toBeGreaterThanOrEqual(250);
      expect(closeMs).toBeLessThan(10_000);
      expect(await reply).toEqual({ by: 'healthy' });
      expect(redelivered).toEqual([true]);
    } finally {
      await Promise.all([client.close(), healthy.close()]);
      await stuck.close();
    }
  });
});
