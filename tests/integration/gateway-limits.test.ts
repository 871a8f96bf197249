import { Writable } from 'node:stream';
import { MemoryRouteSource, RedisRateLimitStore } from '@switchyard/gateway';
import { createInfrastructure, type Infrastructure, type SchemaRegistry } from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  quietLogger,
  type RunningGateway,
  SCHEMAS_DIR,
  send,
  serversInfra,
  startGateway,
  startUpstream,
  type TestUpstream,
} from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

// Rate limits shared by two gateways through the real Redis (headers on every answer,
// 429 with Retry-After past the limit), and an internal failure inside the gateway that
// must come out as a bare INTERNAL: no message, no stack, but logged with its request id.

const namespace = uniqueNamespace('gw-limits');
let infra: Infrastructure;
let upstream: TestUpstream;
const gateways: RunningGateway[] = [];

const limitedRoutes = () =>
  new MemoryRouteSource([
    {
      id: 'limited',
      match: { path: '/limited/*', methods: ['GET'] },
      target: { type: 'http', service: 'svc' },
      auth: { mode: 'off' },
      rateLimit: { points: 5, durationSeconds: 60, key: 'ip' },
    },
  ]);

beforeAll(async () => {
  infra = await serversInfra({ etcd: inject('etcdEndpoint'), amqp: inject('amqpUrl'), namespace });
  upstream = await startUpstream('svc');
  await upstream.register(infra.registry, 'svc');
  for (let i = 0; i < 2; i++) {
    gateways.push(
      await startGateway({
        infra,
        routes: limitedRoutes(),
        // Both gateways count in one Redis, under a prefix of this run only.
        rateLimit: { store: new RedisRateLimitStore({ url: inject('redisUrl'), keyPrefix: `${namespace}:rl` }) },
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  for (const g of gateways) await g.gateway.close();
  await upstream?.close();
  await infra?.close();
});

describe('rate limits shared through Redis', () => {
  it('headers on every answer, one limit across both gateways, then 429 with Retry-After', async () => {
    const hits = upstream.seen.length;
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(await send(gateways[i % 2]!.url, `/limited/${i}`));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(answers.map((a) => a.headers['ratelimit-remaining'])).toEqual(['4', '3', '2', '1', '0', '0', '0']);
    for (const a of answers) {
      expect(a.headers['ratelimit-limit']).toBe('5');
      expect(a.headers['ratelimit-policy']).toBe('5;w=60');
      expect(Number(a.headers['ratelimit-reset'])).toBeGreaterThan(0);
    }
    const refused = answers[5]!;
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.json()).toMatchObject({
      code: 'RATE_LIMITED',
      retryable: true,
      details: { limit: 5, windowSeconds: 60 },
    });
    expect(refused.json().details.retryAfterSeconds).toBe(Number(refused.headers['retry-after']));
    expect(upstream.seen.length).toBe(hits + 5);
    const metrics = (await send(gateways[1]!.adminUrl, '/metrics')).text;
    expect(metrics).toMatch(/switchyard_gateway_rate_limited_total\{route="limited"\} 1/);
    expect(metrics).toMatch(/switchyard_gateway_rejected_total\{route="limited",reason="rate_limit"\} 1/);
  });
});

describe('internal errors', () => {
  it('a failure inside the gateway is a bare INTERNAL 500, logged with its request id', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    // A schema registry that breaks in the middle of a request, as a bug would.
    const broken = {
      start: async () => {},
      close: async () => {},
      has: () => true,
      get: () => {
        throw new TypeError("Cannot read properties of undefined (reading 'validate') at /srv/secret/path.ts:12");
      },
    } as unknown as SchemaRegistry;
    const local = await createInfrastructure({
      env: { SWITCHYARD_SCHEMAS: SCHEMAS_DIR },
      logger: quietLogger,
      schemaRegistry: broken,
    });
    const up = await startUpstream('validated');
    await up.register(local.registry, 'validated');
    const g = await startGateway({
      infra: local,
      logger: pino({ level: 'error' }, sink),
      routes: new MemoryRouteSource([
        {
          id: 'validated',
          match: { path: '/validated', methods: ['POST'] },
          target: { type: 'http', service: 'validated' },
          auth: { mode: 'off' },
          requestSchema: 'https://schemas.switchyard.dev/orders/order.create.request.json',
        },
      ]),
    });
    try {
      const r = await send(g.url, '/validated', { method: 'POST', body: '{}', headers: { 'x-request-id': 'boom-1' } });
      expect(r.status).toBe(500);
      expect(r.json()).toEqual({ code: 'INTERNAL', message: 'internal error', retryable: false, requestId: 'boom-1' });
      expect(r.text).not.toMatch(/secret|path\.ts|TypeError|\bat\s/);
      expect(up.seen).toEqual([]);
      const logged = lines.map((l) => JSON.parse(l)).find((l) => l.requestId === 'boom-1');
      expect(logged).toMatchObject({ level: 50, route: 'validated' });
      expect(logged.err.stack).toContain('secret/path.ts');
    } finally {
      await g.gateway.close();
      await up.close();
      await local.close();
    }
  });
});
