/**
 * Every refusal has its own code, and the handler does not run when it must not: invalid
 * request (caller side and server side), invalid reply, deadline exceeded, open circuit,
 * bulkhead full, rate limited. On the real etcd and RabbitMQ, in one process.
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInfrastructure, createService, type Infrastructure, InternalError, type Service } from '@switchyard/sdk';
import { pino } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SDK_SCHEMA, writeSdkSchemas } from '../fixtures/sdk-schemas.js';
import { rejection } from '../harness/rejection.js';
import { uniqueNamespace } from '../harness/servers.js';

const namespace = uniqueNamespace('sdk-errors');
let schemasDir: string;
let infra: Infrastructure;
let target: Service;
let flaky: Service;
let caller: Service;
const metrics = new MetricsRegistry();
const runs = { echo: 0, slow: 0, narrow: 0, limited: 0, fail: 0 };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return (err as { code: string }).code;
  }
}

async function handledCount(method: string, code: string): Promise<number> {
  const m = await metrics.getSingleMetric('switchyard_service_handled_total')!.get();
  return m.values.find((v) => v.labels.method === method && v.labels.code === code)?.value ?? 0;
}

beforeAll(async () => {
  schemasDir = writeSdkSchemas();
  infra = await createInfrastructure({
    env: {
      SWITCHYARD_ETCD: inject('etcdEndpoint'),
      SWITCHYARD_AMQP: inject('amqpUrl'),
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_SCHEMAS: schemasDir,
    },
    logger: pino({ level: 'silent' }),
  });
  target = createService({
    name: 'sdk-target',
    version: '1.0.0',
    infra,
    metricsRegistry: metrics,
    methods: {
      echo: {
        request: SDK_SCHEMA.echoRequest,
        response: SDK_SCHEMA.echoReply,
        handler: (p: { text: string; breakReply?: boolean }) => {
          runs.echo++;
          return p.breakReply ? { text: p.text, extra: true } : { text: p.text };
        },
      },
      slow: async (_p: unknown, ctx) => {
        runs.slow++;
        await sleep(2_000, undefined, { signal: ctx.signal }).catch(() => undefined);
        return {};
      },
      narrow: {
        maxConcurrent: 1,
        handler: async () => {
          runs.narrow++;
          await sleep(300);
          return {};
        },
      },
      limited: {
        rateLimit: { points: 2, durationSeconds: 60 },
        handler: () => {
          runs.limited++;
          return {};
        },
      },
    },
  });
  flaky = createService({
    name: 'sdk-flaky',
    version: '1.0.0',
    infra,
    methods: {
      fail: () => {
        runs.fail++;
        throw new InternalError('the database is down');
      },
    },
  });
  caller = createService({
    name: 'sdk-errors-caller',
    version: '1.0.0',
    infra,
    calls: { circuitBreaker: { window: 4, minimumCalls: 4, failureRatio: 0.5, halfOpenAfterMs: 60_000 } },
  });
  await Promise.all([target.start(), flaky.start()]);
  await caller.start();
}, 60_000);

afterAll(async () => {
  await caller?.close();
  await target?.close();
  await flaky?.close();
  await infra?.close();
  rmSync(schemasDir, { recursive: true, force: true });
});

describe('service error codes', () => {
  it('answers a valid request', async () => {
    await expect(caller.call('sdk-target.echo', { text: 'hi' })).resolves.toEqual({ text: 'hi' });
    expect(runs.echo).toBe(1);
  });

  it('refuses an invalid request on the caller side: INVALID_ARGUMENT, nothing sent', async () => {
    const before = runs.echo;
    const err = await rejection(caller.call('sdk-target.echo', { text: 42 }));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(err.details?.violations).toEqual([{ pointer: '/text', message: expect.any(String) }]);
    expect(runs.echo).toBe(before);
    // The server never saw it: it counted no INVALID_ARGUMENT.
    expect(await handledCount('echo', 'INVALID_ARGUMENT')).toBe(0);
  });

  it('refuses an invalid request on the server side (a caller that skips validation): handler not run', async () => {
    const before = runs.echo;
    const err = await rejection(infra.transport.call('sdk-target', 'echo', { text: 'x', unknown: 1 }));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(runs.echo).toBe(before);
    expect(await handledCount('echo', 'INVALID_ARGUMENT')).toBe(1);
  });

  it('turns a reply that fails its schema into INTERNAL', async () => {
    const before = runs.echo;
    await expect(codeOf(caller.call('sdk-target.echo', { text: 'x', breakReply: true }))).resolves.toBe('INTERNAL');
    expect(runs.echo).toBe(before + 1);
  });

  it('gives DEADLINE_EXCEEDED at the deadline', async () => {
    const started = Date.now();
    await expect(codeOf(caller.call('sdk-target.slow', {}, { timeoutMs: 300 }))).resolves.toBe('DEADLINE_EXCEEDED');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1_500);
    expect(runs.slow).toBe(1);
  });

  it('refuses calls over the bulkhead with BULKHEAD_FULL without running the handler', async () => {
    const codes = await Promise.all(Array.from({ length: 3 }, () => codeOf(caller.call('sdk-target.narrow', {}))));
    expect(codes.sort()).toEqual(['BULKHEAD_FULL', 'BULKHEAD_FULL', 'OK']);
    expect(runs.narrow).toBe(1);
  });

  it('refuses calls over the rate limit with RATE_LIMITED without running the handler', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) codes.push(await codeOf(caller.call('sdk-target.limited', {})));
    expect(codes).toEqual(['OK', 'OK', 'RATE_LIMITED']);
    expect(runs.limited).toBe(2);
  });

  it('opens the circuit to a failing service: CIRCUIT_OPEN, the handler no longer runs', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) codes.push(await codeOf(caller.call('sdk-flaky.fail', {})));
    expect(codes).toEqual(['INTERNAL', 'INTERNAL', 'INTERNAL', 'INTERNAL']);
    expect(caller.circuitState('sdk-flaky')).toBe('open');
    const started = Date.now();
    await expect(codeOf(caller.call('sdk-flaky.fail', {}))).resolves.toBe('CIRCUIT_OPEN');
    expect(Date.now() - started).toBeLessThan(200);
    expect(runs.fail).toBe(4);
    // Other targets are not affected.
    expect(caller.circuitState('sdk-target')).toBe('closed');
    await expect(caller.call('sdk-target.echo', { text: 'still fine' })).resolves.toEqual({ text: 'still fine' });
  });

  it('does not open the circuit on client errors', async () => {
    for (let i = 0; i < 10; i++) await infra.transport.call('sdk-target', 'echo', {}).catch(() => undefined);
    for (let i = 0; i < 6; i++) await codeOf(caller.call('sdk-target.echo', { text: 'x', breakReply: false, nope: 1 }));
    expect(caller.circuitState('sdk-target')).toBe('closed');
  });

  it('says UNIMPLEMENTED for a method the target does not register and SERVICE_NOT_FOUND for an unknown service', async () => {
    await expect(codeOf(caller.call('sdk-target.nope', {}))).resolves.toBe('UNIMPLEMENTED');
    await expect(codeOf(caller.call('sdk-nobody.get', {}, { timeoutMs: 500 }))).resolves.toBe('SERVICE_NOT_FOUND');
    await expect(codeOf(caller.call('not a target', {}))).resolves.toBe('INVALID_ARGUMENT');
  });
});
