/**
 * RabbitMQ over TLS: a private node (tests/harness/private-rabbit.ts) with an AMQPS
 * listener that verifies peers and requires a client certificate, all certificates from
 * the development CA made here. Proves RPC and events over AMQPS, the server name check,
 * the SDK's SWITCHYARD_AMQP_* plumbing, and that a client without a certificate or one
 * that does not trust the CA is refused with UNAVAILABLE at once instead of retrying.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, issueCert } from '@switchyard/auth';
import { type AmqpTlsOptions, AmqpTransport, type IncomingEvent, isSwitchyardError } from '@switchyard/broker';
import { createInfrastructure } from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PrivateRabbit } from '../harness/private-rabbit.js';

let rabbit: PrivateRabbit | undefined;
let dir: string;
let strangerDir: string;
const transports: AmqpTransport[] = [];
const pem = (d: string, f: string) => readFileSync(join(d, f), 'utf8');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-amqp-tls-'));
  strangerDir = mkdtempSync(join(tmpdir(), 'sy-amqp-tls-stranger-'));
  await initCa({ dir });
  await issueCert({ caDir: dir, name: 'rabbit', dns: ['localhost'], ip: ['127.0.0.1'], server: true });
  await issueCert({ caDir: dir, name: 'svc', client: true });
  // Another CA, which RabbitMQ does not know, with a client certificate of its own.
  await initCa({ dir: strangerDir, commonName: 'Stranger CA' });
  await issueCert({ caDir: strangerDir, name: 'svc', client: true });
  rabbit = await PrivateRabbit.start({
    tls: { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'rabbit.crt'), keyFile: join(dir, 'rabbit.key') },
  });
}, 90_000);

afterAll(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await rabbit?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(strangerDir, { recursive: true, force: true });
}, 60_000);

function client(tls: AmqpTlsOptions): AmqpTransport {
  const t = new AmqpTransport({ url: rabbit!.amqpsUrl, namespace: 'tls', tls });
  transports.push(t);
  return t;
}

const trusted = (): AmqpTlsOptions => ({ ca: pem(dir, 'ca.crt'), cert: pem(dir, 'svc.crt'), key: pem(dir, 'svc.key') });

/** What start() rejects with; it must reject (a hang fails the test by its timeout). */
async function startFailure(t: AmqpTransport): Promise<unknown> {
  return t.start().then(
    () => {
      throw new Error('start() succeeded but should have been refused');
    },
    (err: unknown) => err,
  );
}

describe('AMQPS with a client certificate', () => {
  it('serves and calls an RPC method and publishes and consumes an event', async () => {
    const server = client(trusted());
    const caller = client(trusted());
    await Promise.all([server.start(), caller.start()]);
    await server.serve('greeter', { hello: { handler: (req) => ({ hello: (req.payload as { name: string }).name }) } });
    await expect(caller.call('greeter', 'hello', { name: 'tls' })).resolves.toEqual({ hello: 'tls' });

    const received = new Promise<IncomingEvent>((resolve) => {
      void server
        .subscribe('greetings.sent', (event) => resolve(event), { group: 'audit' })
        .then(() => caller.publish('greetings.sent', { to: 'tls' }));
    });
    expect((await received).payload).toEqual({ to: 'tls' });
  });

  it('checks the server name: the DNS name in the certificate passes, another name is refused', async () => {
    await expect(client({ ...trusted(), servername: 'localhost' }).start()).resolves.toBeUndefined();
    const err = await startFailure(client({ ...trusted(), servername: 'rabbit.elsewhere.example' }));
    expect(isSwitchyardError(err, 'UNAVAILABLE')).toBe(true);
    expect((err as { details: { tls: string } }).details.tls).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('goes through the SDK: SWITCHYARD_AMQP=amqps://… with SWITCHYARD_AMQP_CA/CERT/KEY files', async () => {
    const infra = await createInfrastructure({
      env: {
        SWITCHYARD_ETCD: inject('etcdEndpoint'),
        SWITCHYARD_AMQP: rabbit!.amqpsUrl,
        SWITCHYARD_AMQP_CA: join(dir, 'ca.crt'),
        SWITCHYARD_AMQP_CERT: join(dir, 'svc.crt'),
        SWITCHYARD_AMQP_KEY: join(dir, 'svc.key'),
        SWITCHYARD_NAMESPACE: 'tls-sdk',
        SWITCHYARD_SCHEMAS: 'none',
      },
      logger: pino({ level: 'silent' }),
    });
    try {
      await infra.transport.serve('clock', { now: { handler: () => 'tick' } });
      await expect(infra.transport.call('clock', 'now', null)).resolves.toBe('tick');
    } finally {
      await infra.close();
    }
  });
});

describe('AMQPS refusals', () => {
  it('a client without a certificate is refused at once with UNAVAILABLE (certificate required)', async () => {
    const err = await startFailure(client({ ca: pem(dir, 'ca.crt') }));
    expect(isSwitchyardError(err, 'UNAVAILABLE')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(false);
    expect((err as Error).message).toMatch(/RabbitMQ refused the TLS handshake .*certificate required/);
  });

  it('a client that does not trust the CA is refused at once with UNAVAILABLE', async () => {
    const err = await startFailure(client({ cert: pem(dir, 'svc.crt'), key: pem(dir, 'svc.key') }));
    expect(isSwitchyardError(err, 'UNAVAILABLE')).toBe(true);
    expect((err as Error).message).toMatch(/RabbitMQ's certificate was refused \(SELF_SIGNED_CERT_IN_CHAIN/);
  });

  it('a client certificate from a CA RabbitMQ does not know is refused by RabbitMQ', async () => {
    const err = await startFailure(
      client({ ca: pem(dir, 'ca.crt'), cert: pem(strangerDir, 'svc.crt'), key: pem(strangerDir, 'svc.key') }),
    );
    expect(isSwitchyardError(err, 'UNAVAILABLE')).toBe(true);
    expect((err as { details: { tls: string } }).details.tls).toMatch(/^ERR_SSL_.*_ALERT_/);
  });
});
