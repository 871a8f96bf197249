import { randomBytes } from 'node:crypto';
import { InvalidOptionsError } from '@switchyard/broker';
import { DEFAULT_NAMESPACE, installShutdownHandlers, parseSwitchyardConfig, readPem } from '@switchyard/sdk';
import { type Logger, pino } from 'pino';
import { MASTER_KEY_ENV } from '../keys/key-encryption.js';
import type { AuthStore } from '../store/auth-store.js';
import { EtcdAuthStore } from '../store/etcd/etcd-auth-store.js';
import { MemoryAuthStore } from '../store/memory/memory-auth-store.js';
import { AUTH_SERVER_DEFAULTS } from './auth-options.js';
import { type AuthServer, createAuthServer } from './auth-server.js';

/** Variables of a standalone auth service (besides SWITCHYARD_ETCD / SWITCHYARD_NAMESPACE). */
export const AUTH_SERVICE_ENV = Object.freeze({
  host: 'SWITCHYARD_AUTH_HOST',
  port: 'SWITCHYARD_AUTH_PORT',
  issuer: 'SWITCHYARD_AUTH_ISSUER',
  masterKey: MASTER_KEY_ENV,
  accessTokenTtlSec: 'SWITCHYARD_AUTH_ACCESS_TTL',
  /** HTTPS on the listener: the server certificate and key (PEM file paths or PEM text), both or neither. */
  tlsCert: 'SWITCHYARD_AUTH_TLS_CERT',
  tlsKey: 'SWITCHYARD_AUTH_TLS_KEY',
});

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The auth service from the environment: the etcd store under the namespace when
 * SWITCHYARD_ETCD is set (SWITCHYARD_AUTH_MASTER_KEY then required), else memory with an
 * ephemeral master key (development). SIGTERM/SIGINT close it gracefully.
 */
export async function runAuthService(
  env: Env = process.env,
  options: { logger?: Logger; handleSignals?: boolean } = {},
): Promise<AuthServer> {
  const logger = options.logger ?? pino({ level: env.SWITCHYARD_LOG_LEVEL ?? 'info' });
  const read = (n: string) => (env[n]?.trim() ? env[n]!.trim() : undefined);
  const etcd = read('SWITCHYARD_ETCD');
  const namespace = read('SWITCHYARD_NAMESPACE') ?? DEFAULT_NAMESPACE;
  const tlsCert = read(AUTH_SERVICE_ENV.tlsCert);
  const tlsKey = read(AUTH_SERVICE_ENV.tlsKey);
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    const missing = tlsCert === undefined ? AUTH_SERVICE_ENV.tlsCert : AUTH_SERVICE_ENV.tlsKey;
    throw new InvalidOptionsError(
      `${AUTH_SERVICE_ENV.tlsCert} and ${AUTH_SERVICE_ENV.tlsKey} go together: ${missing} is not set`,
      {
        details: { option: missing },
      },
    );
  }
  // Read before the store opens its etcd client: a bad file must not leave a connection behind.
  const tls =
    tlsCert !== undefined && tlsKey !== undefined
      ? {
          cert: readPem(AUTH_SERVICE_ENV.tlsCert, tlsCert, 'CERTIFICATE'),
          key: readPem(AUTH_SERVICE_ENV.tlsKey, tlsKey, 'PRIVATE KEY'),
        }
      : undefined;
  let store: AuthStore;
  let masterKey = read(MASTER_KEY_ENV);
  if (etcd !== undefined) {
    // Only the etcd settings (endpoints, SWITCHYARD_ETCD_CA/CERT/KEY) matter here: the auth
    // service has no RabbitMQ link, but the parser wants both servers or neither.
    const { etcdEndpoints: endpoints, etcdTls } = parseSwitchyardConfig({
      ...env,
      SWITCHYARD_AMQP: env.SWITCHYARD_AMQP ?? 'amqp://unused',
    });
    if (masterKey === undefined) {
      throw new InvalidOptionsError(
        `${MASTER_KEY_ENV} is required with SWITCHYARD_ETCD: signing keys are stored encrypted with it`,
        {
          details: { option: MASTER_KEY_ENV },
        },
      );
    }
    store = new EtcdAuthStore({ endpoints, namespace, logger, ...(etcdTls ? { tls: etcdTls } : {}) });
  } else {
    store = new MemoryAuthStore();
    if (masterKey === undefined) {
      masterKey = randomBytes(32).toString('base64');
      logger.warn(
        'auth: in-memory store with an ephemeral master key (development): accounts and keys are lost on exit',
      );
    }
  }
  const num = (name: string) => {
    const v = read(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n))
      throw new InvalidOptionsError(`${name} must be an integer, got ${JSON.stringify(v)}`, {
        details: { option: name },
      });
    return n;
  };
  let server: AuthServer;
  try {
    server = createAuthServer({
      ...(tls ? { tls } : {}),
      store,
      masterKey,
      logger,
      host: read(AUTH_SERVICE_ENV.host) ?? AUTH_SERVER_DEFAULTS.host,
      port: num(AUTH_SERVICE_ENV.port) ?? AUTH_SERVER_DEFAULTS.port,
      ...(read(AUTH_SERVICE_ENV.issuer) ? { issuer: read(AUTH_SERVICE_ENV.issuer) } : {}),
      ...(num(AUTH_SERVICE_ENV.accessTokenTtlSec) !== undefined
        ? { accessTokenTtlSec: num(AUTH_SERVICE_ENV.accessTokenTtlSec) }
        : {}),
    });
  } catch (err) {
    // A bad option must not leave the store's etcd connection open.
    await store.close();
    throw err;
  }
  try {
    await server.start();
  } catch (err) {
    await server.close().catch(() => {});
    throw err;
  }
  if (options.handleSignals !== false) installShutdownHandlers([server], { logger });
  return server;
}
