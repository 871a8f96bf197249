/**
 * TLS client settings of the links to RabbitMQ, etcd and Redis: the variables, their
 * precedence, files read once with the variable named on failure, and TLS settings on a
 * plain URL refused everywhere (SDK config, AmqpTransport, etcd client, Redis store, CLI).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, issueCert } from '@switchyard/auth';
import { AmqpTransport } from '@switchyard/broker';
import { resolveSettings } from '@switchyard/cli';
import { RedisRateLimitStore, rateLimitStoreFromEnv } from '@switchyard/gateway';
import { createEtcdClient, parseSwitchyardConfig, readTlsEnv } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
const file = (name: string) => join(dir, name);
const pem = (name: string) => readFileSync(file(name), 'utf8');
const noDirs = { isDirectory: () => false };
const secure = { source: 'SWITCHYARD_AMQP', secure: true };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-tls-settings-'));
  await initCa({ dir });
  await issueCert({ caDir: dir, name: 'svc', client: true });
  await issueCert({ caDir: dir, name: 'other', client: true });
  writeFileSync(file('garbage.crt'), 'not a certificate\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The INVALID_OPTIONS error `fn` throws: its option and message. */
function refusal(fn: () => unknown): { option: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect((err as { code?: string }).code).toBe('INVALID_OPTIONS');
    return { option: (err as { details?: { option: string } }).details?.option ?? '', message: (err as Error).message };
  }
  throw new Error('expected INVALID_OPTIONS');
}

describe('readTlsEnv', () => {
  it('reads the CA and the client pair from files, once, as PEM text', () => {
    const tls = readTlsEnv(
      {
        SWITCHYARD_AMQP_CA: file('ca.crt'),
        SWITCHYARD_AMQP_CERT: file('svc.crt'),
        SWITCHYARD_AMQP_KEY: file('svc.key'),
      },
      'amqp',
      secure,
    );
    expect(tls).toEqual({ ca: pem('ca.crt'), cert: pem('svc.crt'), key: pem('svc.key') });
    expect(Object.isFrozen(tls)).toBe(true);
  });

  it('accepts PEM text in place of a path, and nothing set means node defaults', () => {
    // Variables are trimmed, PEM text included.
    expect(readTlsEnv({ SWITCHYARD_ETCD_CA: pem('ca.crt') }, 'etcd', secure)).toEqual({ ca: pem('ca.crt').trim() });
    expect(readTlsEnv({}, 'redis', secure)).toBeUndefined();
  });

  it('prefers the link variables to SWITCHYARD_TLS_CLIENT_*: the CA alone, the certificate and key as a pair', () => {
    const env = {
      SWITCHYARD_TLS_CLIENT_CA: file('ca.crt'),
      SWITCHYARD_TLS_CLIENT_CERT: file('other.crt'),
      SWITCHYARD_TLS_CLIENT_KEY: file('other.key'),
      SWITCHYARD_REDIS_CERT: file('svc.crt'),
      SWITCHYARD_REDIS_KEY: file('svc.key'),
    };
    expect(readTlsEnv(env, 'redis', secure)).toEqual({ ca: pem('ca.crt'), cert: pem('svc.crt'), key: pem('svc.key') });
    expect(readTlsEnv(env, 'etcd', secure)).toEqual({
      ca: pem('ca.crt'),
      cert: pem('other.crt'),
      key: pem('other.key'),
    });
  });

  it('refuses a certificate without its key (and a key without its certificate), naming both', () => {
    const a = refusal(() => readTlsEnv({ SWITCHYARD_AMQP_CERT: file('svc.crt') }, 'amqp', secure));
    expect(a.option).toBe('SWITCHYARD_AMQP_CERT/SWITCHYARD_AMQP_KEY');
    const b = refusal(() => readTlsEnv({ SWITCHYARD_TLS_CLIENT_KEY: file('svc.key') }, 'etcd', secure));
    expect(b.option).toBe('SWITCHYARD_TLS_CLIENT_CERT/SWITCHYARD_TLS_CLIENT_KEY');
  });

  it('names the variable whose file is missing, unreadable or not PEM', () => {
    expect(refusal(() => readTlsEnv({ SWITCHYARD_ETCD_CA: file('nope.crt') }, 'etcd', secure)).message).toMatch(
      /SWITCHYARD_ETCD_CA.*does not exist/,
    );
    expect(refusal(() => readTlsEnv({ SWITCHYARD_ETCD_CA: file('garbage.crt') }, 'etcd', secure)).option).toBe(
      'SWITCHYARD_ETCD_CA',
    );
    expect(refusal(() => readTlsEnv({ SWITCHYARD_ETCD_CA: file('svc.key') }, 'etcd', secure)).option).toBe(
      'SWITCHYARD_ETCD_CA',
    );
    // A directory: unreadable as a file even for root.
    expect(refusal(() => readTlsEnv({ SWITCHYARD_REDIS_CA: dir }, 'redis', secure)).message).toMatch(
      /SWITCHYARD_REDIS_CA.*cannot be read/,
    );
    if (process.getuid?.() !== 0) {
      chmodSync(file('other.key'), 0o000);
      try {
        expect(
          refusal(() =>
            readTlsEnv(
              { SWITCHYARD_AMQP_CERT: file('other.crt'), SWITCHYARD_AMQP_KEY: file('other.key') },
              'amqp',
              secure,
            ),
          ).option,
        ).toBe('SWITCHYARD_AMQP_KEY');
      } finally {
        chmodSync(file('other.key'), 0o600);
      }
    }
  });

  it('refuses a key that does not belong to the certificate', () => {
    const r = refusal(() =>
      readTlsEnv({ SWITCHYARD_AMQP_CERT: file('svc.crt'), SWITCHYARD_AMQP_KEY: file('other.key') }, 'amqp', secure),
    );
    expect(r.option).toBe('SWITCHYARD_AMQP_CERT/SWITCHYARD_AMQP_KEY');
  });

  it('refuses link variables on a plain URL, and ignores the shared ones there', () => {
    const r = refusal(() =>
      readTlsEnv({ SWITCHYARD_REDIS_CA: file('ca.crt') }, 'redis', { source: 'SWITCHYARD_REDIS', secure: false }),
    );
    expect(r.option).toBe('SWITCHYARD_REDIS_CA');
    expect(r.message).toContain('rediss://');
    expect(
      readTlsEnv({ SWITCHYARD_TLS_CLIENT_CA: file('ca.crt') }, 'redis', { source: 'SWITCHYARD_REDIS', secure: false }),
    ).toBeUndefined();
  });
});

describe('parseSwitchyardConfig with TLS', () => {
  const servers = { SWITCHYARD_ETCD: 'https://etcd:2379', SWITCHYARD_AMQP: 'amqps://u:p@10.0.0.7:5671' };

  it('gives the AMQP and etcd TLS settings, with the AMQP server name', () => {
    const c = parseSwitchyardConfig(
      {
        ...servers,
        SWITCHYARD_TLS_CLIENT_CA: file('ca.crt'),
        SWITCHYARD_AMQP_CERT: file('svc.crt'),
        SWITCHYARD_AMQP_KEY: file('svc.key'),
        SWITCHYARD_AMQP_SERVERNAME: 'rabbit.internal',
      },
      {},
      noDirs,
    );
    expect(c.amqpTls).toEqual({
      ca: pem('ca.crt'),
      cert: pem('svc.crt'),
      key: pem('svc.key'),
      servername: 'rabbit.internal',
    });
    expect(c.etcdTls).toEqual({ ca: pem('ca.crt') });
  });

  it('refuses TLS files with a plain amqp:// or http:// URL', () => {
    const plain = { SWITCHYARD_ETCD: 'http://etcd:2379', SWITCHYARD_AMQP: 'amqp://rabbit:5672' };
    expect(
      refusal(() => parseSwitchyardConfig({ ...plain, SWITCHYARD_ETCD_CA: file('ca.crt') }, {}, noDirs)).option,
    ).toBe('SWITCHYARD_ETCD_CA');
    expect(
      refusal(() => parseSwitchyardConfig({ ...plain, SWITCHYARD_AMQP_SERVERNAME: 'rabbit' }, {}, noDirs)).option,
    ).toBe('SWITCHYARD_AMQP_SERVERNAME');
  });

  it('takes TLS options given in code over the variables', () => {
    const c = parseSwitchyardConfig(
      { ...servers, SWITCHYARD_AMQP_CA: file('nope.crt') },
      { amqpTls: { ca: 'x' } },
      noDirs,
    );
    expect(c.amqpTls).toEqual({ ca: 'x' });
  });
});

describe('TLS options on the clients', () => {
  it('AmqpTransport refuses tls with an amqp:// URL and a certificate without its key', () => {
    expect(refusal(() => new AmqpTransport({ url: 'amqp://h:5672', tls: { ca: pem('ca.crt') } })).option).toBe('tls');
    expect(refusal(() => new AmqpTransport({ url: 'amqps://h:5671', tls: { cert: pem('svc.crt') } })).option).toBe(
      'tls.cert/tls.key',
    );
    expect(
      refusal(() => new AmqpTransport({ url: 'amqps://h:5671', tls: { cert: pem('svc.crt'), key: pem('other.key') } }))
        .option,
    ).toBe('tls.cert/tls.key');
    expect(
      () => new AmqpTransport({ url: 'amqps://h:5671', tls: { ca: pem('ca.crt'), servername: 'h' } }),
    ).not.toThrow();
  });

  it('the etcd client refuses tls with http:// endpoints and mixed schemes', () => {
    expect(refusal(() => createEtcdClient('http://h:2379', { tls: { ca: pem('ca.crt') } })).option).toBe('tls');
    expect(refusal(() => createEtcdClient(['https://a:2379', 'http://b:2379'])).option).toBe('endpoints');
  });

  it('the Redis store refuses tls with a redis:// URL; the environment gives it to a rediss:// one', async () => {
    expect(() => new RedisRateLimitStore({ url: 'redis://h:6379', tls: { ca: pem('ca.crt') } })).toThrow(/rediss:\/\//);
    expect(() =>
      rateLimitStoreFromEnv({ SWITCHYARD_REDIS: 'redis://h:6379', SWITCHYARD_REDIS_CA: file('ca.crt') }),
    ).toThrow(/SWITCHYARD_REDIS_CA/);
    const store = rateLimitStoreFromEnv({ SWITCHYARD_REDIS: 'rediss://h:6380', SWITCHYARD_REDIS_CA: file('ca.crt') });
    expect((store as RedisRateLimitStore).client.options.tls).toEqual({ ca: pem('ca.crt') });
    await store.close();
  });

  it('the CLI reads the same variables for the server it was pointed at, as a usage error', () => {
    const s = resolveSettings({ amqp: 'amqps://h:5671' }, { SWITCHYARD_AMQP_CA: file('ca.crt') });
    expect(s.amqpTls).toEqual({ ca: pem('ca.crt') });
    expect(s.etcdTls).toBeUndefined();
    expect(() => resolveSettings({ etcd: 'http://h:2379' }, { SWITCHYARD_ETCD_CERT: file('svc.crt') })).toThrow(
      /SWITCHYARD_ETCD_CERT/,
    );
  });
});
