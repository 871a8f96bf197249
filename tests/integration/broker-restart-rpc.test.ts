/**
 * RPC across a broker restart, on a private RabbitMQ node of this file's own (one node for
 * the whole file), between two SDK services (registry on the run's etcd):
 *
 * - a non-idempotent call fails UNAVAILABLE well before its deadline, whether it was in
 *   flight when the node went or started while it was down;
 * - an idempotent call, in flight or started during the outage, succeeds once the node is
 *   back, within its deadline (the SDK retries it, and the retry waits for the
 *   connection: `waitForReady`);
 * - the RPC server resumes consuming on the same transport, without a restart of the
 *   service.
 *
 * No timing assertions beyond deadlines.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SwitchyardError } from '@switchyard/broker';
import { createInfrastructure, createService, type Infrastructure, type Service } from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PrivateRabbit } from '../harness/private-rabbit.js';
import { uniqueNamespace } from '../harness/servers.js';

let rabbit: PrivateRabbit;
let infra: Infrastructure;
let target: Service;
let caller: Service;
const runs = { lookup: 0, charge: 0 };
/** How long an in-flight call's handler takes: long enough to be in flight when the node goes. */
const SLOW_MS = 1_500;

beforeAll(async () => {
  rabbit = await PrivateRabbit.start();
  console.log(`[restart] private RabbitMQ node ${rabbit.nodeName} accepted AMQP after ${rabbit.startedInMs} ms`);
  infra = await createInfrastructure({
    env: {
      SWITCHYARD_ETCD: inject('etcdEndpoint'),
      SWITCHYARD_AMQP: rabbit.amqpUrl,
      SWITCHYARD_NAMESPACE: uniqueNamespace('restart-rpc'),
    },
    logger: pino({ level: 'silent' }),
  });
  target = createService({
    name: 'restart-target',
    version: '1.0.0',
    infra,
    methods: {
      lookup: {
        idempotent: true,
        handler: async (p: { slow?: boolean }) => {
          runs.lookup++;
          if (p.slow) await sleep(SLOW_MS);
          return { found: true };
        },
      },
      charge: async (p: { slow?: boolean }) => {
        runs.charge++;
        if (p.slow) await sleep(SLOW_MS);
        return { charged: true };
      },
    },
  });
  caller = createService({ name: 'restart-caller', version: '1.0.0', infra });
  await target.start();
  await caller.start();
}, 90_000);

afterAll(async () => {
  await caller?.close();
  await target?.close();
  await infra?.close();
  await rabbit?.close();
}, 60_000);

async function outcome(p: Promise<unknown>): Promise<{ code: string; ms: number }> {
  const t0 = Date.now();
  try {
    await p;
    return { code: 'OK', ms: Date.now() - t0 };
  } catch (err) {
    return { code: (err as SwitchyardError).code, ms: Date.now() - t0 };
  }
}

async function untilConnected(timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (infra.transport.state !== 'connected') {
    if (Date.now() > end) throw new Error(`transport still ${infra.transport.state} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Calls in flight when the node goes, and calls made while it is down; then it comes back. */
async function throughOutage(goAway: () => Promise<void>): Promise<void> {
  await expect(caller.call('restart-target.lookup', {})).resolves.toEqual({ found: true });
  await expect(caller.call('restart-target.charge', {})).resolves.toEqual({ charged: true });
  const idempotentDeadline = 45_000;
  const plainDeadline = 30_000;

  const inFlight = {
    lookup: outcome(caller.call('restart-target.lookup', { slow: true }, { timeoutMs: idempotentDeadline })),
    charge: outcome(caller.call('restart-target.charge', { slow: true }, { timeoutMs: plainDeadline })),
  };
  await sleep(SLOW_MS / 3); // both handlers are running now
  await goAway();
  expect(infra.transport.state).not.toBe('connected');

  const during = {
    lookup: outcome(caller.call('restart-target.lookup', {}, { timeoutMs: idempotentDeadline })),
    charge: await outcome(caller.call('restart-target.charge', {}, { timeoutMs: plainDeadline })),
  };
  // Not idempotent: UNAVAILABLE at once, not at the deadline.
  expect(during.charge.code).toBe('UNAVAILABLE');
  expect(during.charge.ms).toBeLessThan(plainDeadline / 3);
  const charged = await inFlight.charge;
  expect(charged.code).toBe('UNAVAILABLE');
  expect(charged.ms).toBeLessThan(plainDeadline / 3);

  await rabbit.resume();
  // Idempotent: both succeed after the node is back, within their deadline.
  expect(await inFlight.lookup).toMatchObject({ code: 'OK' });
  expect(await during.lookup).toMatchObject({ code: 'OK' });

  // The same server, on the same transport, consumes again: no restart of the service.
  await untilConnected(30_000);
  await expect(caller.call('restart-target.charge', {}, { timeoutMs: 20_000 })).resolves.toEqual({ charged: true });
  await expect(caller.call('restart-target.lookup', {}, { timeoutMs: 20_000 })).resolves.toEqual({ found: true });
}

describe('RPC across a clean stop and start of RabbitMQ', () => {
  it('fails non-idempotent calls UNAVAILABLE fast, completes idempotent ones after the restart, and serves again', async () => {
    await throughOutage(() => rabbit.stop());
  }, 120_000);
});

describe('RPC across a SIGKILL of RabbitMQ', () => {
  it('fails non-idempotent calls UNAVAILABLE fast, completes idempotent ones after the restart, and serves again', async () => {
    await throughOutage(() => rabbit.kill());
  }, 120_000);
});

describe("the transport's waitForReady while RabbitMQ is down", () => {
  it('holds a call until the node is back, and fails one whose deadline comes first with DEADLINE_EXCEEDED', async () => {
    await expect(infra.transport.call('restart-target', 'lookup', {})).resolves.toEqual({ found: true });
    await rabbit.kill();
    const held = outcome(
      infra.transport.call('restart-target', 'lookup', {}, { waitForReady: true, timeoutMs: 45_000 }),
    );
    const short = await outcome(
      infra.transport.call('restart-target', 'lookup', {}, { waitForReady: true, timeoutMs: 300 }),
    );
    expect(short.code).toBe('DEADLINE_EXCEEDED');
    // Without it: UNAVAILABLE at once, reason "disconnected".
    const plain = await infra.transport.call('restart-target', 'lookup', {}).catch((e: SwitchyardError) => e);
    expect(plain).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'disconnected' } });
    await rabbit.resume();
    // Sent once the connection is back, and sent again while it comes back unroutable (a
    // restart drops the auto-delete request queue until the server declares it again).
    expect(await held).toMatchObject({ code: 'OK' });
  }, 90_000);

  it('re-sends a call that finds no server while its deadline leaves time, then fails UNAVAILABLE', async () => {
    const t0 = Date.now();
    const err = await infra.transport
      .call('restart-nobody', 'x', {}, { waitForReady: true, timeoutMs: 1_500 })
      .catch((e: SwitchyardError) => e);
    expect(err).toMatchObject({ code: 'UNAVAILABLE', details: { service: 'restart-nobody' } });
    // It waited (re-sending after 100, 200, 400 ms) instead of failing at the first return.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    // Without waitForReady: at once.
    await expect(infra.transport.call('restart-nobody', 'x', {}, { timeoutMs: 1_500 })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      details: { service: 'restart-nobody' },
    });
  });
});
