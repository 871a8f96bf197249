/**
 * Caller-side reply validation (`calls.validateReplies`): a caller that turns it on gets
 * INTERNAL, with the violations, when a server replies with a payload that fails the
 * method's registered response schema — even when that server skips its own check. The
 * misbehaving server is a raw AmqpTransport registered by hand, so nothing on its side
 * validates. Off by default: a caller without the option gets the bad reply as it came.
 * On the real etcd and RabbitMQ.
 */
import { rmSync } from 'node:fs';
import { AmqpTransport } from '@switchyard/broker';
import {
  createInfrastructure,
  createService,
  type Infrastructure,
  type Registration,
  type Service,
} from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deleteNamespaces } from '../fixtures/amqp-broker.js';
import { SDK_SCHEMA, writeSdkSchemas } from '../fixtures/sdk-schemas.js';
import { rejection } from '../harness/rejection.js';
import { uniqueNamespace } from '../harness/servers.js';

const url = inject('amqpUrl');
const namespace = uniqueNamespace('sdk-reply-validation');
let schemasDir: string;
let infra: Infrastructure;
let liar: AmqpTransport;
let registration: Registration;
let checking: Service;
let trusting: Service;
let runs = 0;

beforeAll(async () => {
  schemasDir = writeSdkSchemas();
  infra = await createInfrastructure({
    env: {
      SWITCHYARD_ETCD: inject('etcdEndpoint'),
      SWITCHYARD_AMQP: url,
      SWITCHYARD_NAMESPACE: namespace,
      SWITCHYARD_SCHEMAS: schemasDir,
    },
    logger: pino({ level: 'silent' }),
  });
  // A server in "another language": it registers the echo schemas but never checks its replies.
  liar = new AmqpTransport({ url, namespace });
  await liar.start();
  await liar.serve('sdk-liar', {
    echo: {
      handler: (req) => {
        runs++;
        const { text, breakReply } = req.payload as { text: string; breakReply?: boolean };
        return breakReply ? { text: 42, extra: true } : { text };
      },
    },
    ghost: {
      handler: () => {
        runs++;
        return {};
      },
    },
  });
  registration = await infra.registry.register({
    service: 'sdk-liar',
    version: '1.0.0',
    methods: {
      echo: { request: SDK_SCHEMA.echoRequest, response: SDK_SCHEMA.echoReply },
      ghost: { response: 'https://schemas.switchyard.test/sdk/nowhere.json' },
    },
  });
  checking = createService({ name: 'sdk-reply-checker', version: '1.0.0', infra, calls: { validateReplies: true } });
  trusting = createService({ name: 'sdk-reply-truster', version: '1.0.0', infra });
  await Promise.all([checking.start(), trusting.start()]);
}, 60_000);

afterAll(async () => {
  await checking?.close();
  await trusting?.close();
  await registration?.deregister();
  await liar?.close();
  await infra?.close();
  await deleteNamespaces(url, [namespace]);
  rmSync(schemasDir, { recursive: true, force: true });
}, 60_000);

describe('caller-side reply validation', () => {
  it('passes a valid reply through', async () => {
    await expect(checking.call('sdk-liar.echo', { text: 'hi' })).resolves.toEqual({ text: 'hi' });
  });

  it('turns a reply that fails the registered response schema into INTERNAL with the violations', async () => {
    const before = runs;
    const err = await rejection(checking.call('sdk-liar.echo', { text: 'x', breakReply: true }));
    expect(err).toMatchObject({
      name: 'InternalError',
      code: 'INTERNAL',
      retryable: false,
      details: { service: 'sdk-liar', method: 'echo', schema: SDK_SCHEMA.echoReply },
    });
    expect(err.message).toContain('sdk-liar.echo');
    const pointers = ((err.details?.violations ?? []) as { pointer: string }[]).map((v) => v.pointer).sort();
    expect(pointers).toEqual(['/extra', '/text']);
    // The handler ran once: INTERNAL is not retried.
    expect(runs).toBe(before + 1);
  });

  it('fails with SCHEMA_NOT_FOUND before sending when this side lacks the response schema', async () => {
    const before = runs;
    const err = await rejection(checking.call('sdk-liar.ghost', {}));
    expect(err.code).toBe('SCHEMA_NOT_FOUND');
    expect(runs).toBe(before);
    // Without the option the schema is never looked up.
    await expect(trusting.call('sdk-liar.ghost', {})).resolves.toEqual({});
  });

  it('is off by default: a caller without the option gets the reply as it came', async () => {
    await expect(trusting.call('sdk-liar.echo', { text: 'x', breakReply: true })).resolves.toEqual({
      text: 42,
      extra: true,
    });
  });
});
