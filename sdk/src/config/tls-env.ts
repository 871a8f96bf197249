import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { AmqpTlsOptions } from '@switchyard/broker';
import { invalidOption } from './check.js';

/** The links to infrastructure servers that can run over TLS. */
export type TlsLink = 'amqp' | 'etcd' | 'redis';

/**
 * TLS client settings of each link, by variable. Each value is the path of a PEM file (or
 * the PEM text itself), read once at startup. A link-specific variable beats the shared
 * SWITCHYARD_TLS_CLIENT_* one: the CA on its own, the certificate and key as a pair. The
 * shared trio applies only to links whose URL asks for TLS (`amqps://`, `https://`,
 * `rediss://`); a link-specific variable on a plain URL is an error.
 */
export const TLS_ENV = Object.freeze({
  amqp: Object.freeze({ ca: 'SWITCHYARD_AMQP_CA', cert: 'SWITCHYARD_AMQP_CERT', key: 'SWITCHYARD_AMQP_KEY' }),
  etcd: Object.freeze({ ca: 'SWITCHYARD_ETCD_CA', cert: 'SWITCHYARD_ETCD_CERT', key: 'SWITCHYARD_ETCD_KEY' }),
  redis: Object.freeze({ ca: 'SWITCHYARD_REDIS_CA', cert: 'SWITCHYARD_REDIS_CERT', key: 'SWITCHYARD_REDIS_KEY' }),
  /**
   * Not SWITCHYARD_TLS_CERT/KEY: those are the gateway's own HTTPS listener, whose
   * certificate must not be presented to RabbitMQ, etcd and Redis as a client identity.
   */
  shared: Object.freeze({
    ca: 'SWITCHYARD_TLS_CLIENT_CA',
    cert: 'SWITCHYARD_TLS_CLIENT_CERT',
    key: 'SWITCHYARD_TLS_CLIENT_KEY',
  }),
});

/** Name RabbitMQ's certificate must carry when it differs from the host in SWITCHYARD_AMQP (e.g. an IP address). */
export const AMQP_SERVERNAME_ENV = 'SWITCHYARD_AMQP_SERVERNAME';

/** PEM contents of a TLS client: the CA to trust (default: node's roots) and a client certificate. */
export interface TlsClientFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The TLS settings of one link from the environment; undefined when none apply.
 * `endpoint` names where the link's URL came from and whether it uses TLS, for the error
 * on TLS files given with a plain URL. Throws INVALID_OPTIONS naming the variable(s).
 */
export function readTlsEnv(
  env: Env,
  link: TlsLink,
  endpoint: { source: string; secure: boolean },
): TlsClientFiles | undefined {
  const read = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === '' ? undefined : v;
  };
  const own = TLS_ENV[link];
  const shared = TLS_ENV.shared;
  const ownSet = [own.ca, own.cert, own.key].filter((name) => read(name) !== undefined);
  if (!endpoint.secure) {
    if (ownSet.length > 0) {
      throw invalidOption(
        ownSet.join('/'),
        `is set but ${endpoint.source} is not a ${secureScheme(link)} URL, so the link would not use TLS: use ${secureScheme(link)} or unset ${ownSet.join(', ')}`,
      );
    }
    return undefined;
  }
  const caVar = read(own.ca) !== undefined ? own.ca : read(shared.ca) !== undefined ? shared.ca : undefined;
  const pair = read(own.cert) !== undefined || read(own.key) !== undefined ? own : shared;
  const certValue = read(pair.cert);
  const keyValue = read(pair.key);
  if ((certValue === undefined) !== (keyValue === undefined)) {
    throw invalidOption(
      `${pair.cert}/${pair.key}`,
      `must be set together (only ${certValue === undefined ? pair.key : pair.cert} is set)`,
    );
  }
  if (caVar === undefined && certValue === undefined) return undefined;
  const files: { ca?: string; cert?: string; key?: string } = {};
  if (caVar !== undefined) files.ca = readPem(caVar, read(caVar)!, 'CERTIFICATE');
  if (certValue !== undefined) {
    files.cert = readPem(pair.cert, certValue, 'CERTIFICATE');
    files.key = readPem(pair.key, keyValue!, 'PRIVATE KEY');
  }
  checkLoads(files, caVar, pair);
  return Object.freeze(files);
}

/**
 * TLS of the RabbitMQ links for `url` (from `source`, for messages): SWITCHYARD_AMQP_* plus
 * SWITCHYARD_AMQP_SERVERNAME. Nothing applies while no URL is configured.
 */
export function readAmqpTlsEnv(
  env: Env,
  url: string | undefined,
  source: string,
): Readonly<AmqpTlsOptions> | undefined {
  if (url === undefined) return undefined;
  const secure = url.startsWith('amqps://');
  const files = readTlsEnv(env, 'amqp', { source, secure });
  const servername = env[AMQP_SERVERNAME_ENV]?.trim() || undefined;
  if (servername === undefined) return files;
  if (!secure) throw invalidOption(AMQP_SERVERNAME_ENV, `is set but ${source} is not an amqps:// URL`);
  return Object.freeze({ ...files, servername });
}

/** TLS of the etcd links for `endpoints` (from `source`): SWITCHYARD_ETCD_*. Nothing applies without endpoints. */
export function readEtcdTlsEnv(env: Env, endpoints: readonly string[], source: string): TlsClientFiles | undefined {
  if (endpoints.length === 0) return undefined;
  return readTlsEnv(env, 'etcd', { source, secure: endpoints.some((e) => e.startsWith('https://')) });
}

function secureScheme(link: TlsLink): string {
  return link === 'amqp' ? 'amqps://' : link === 'etcd' ? 'https://' : 'rediss://';
}

/**
 * The PEM a variable names: its file's content, or the value itself when it is PEM text.
 * `label` is what the PEM must hold (`CERTIFICATE`, `PRIVATE KEY`); INVALID_OPTIONS names
 * the variable and says why otherwise.
 */
export function readPem(variable: string, value: string, label: string): string {
  let text = value;
  if (!value.includes('-----BEGIN')) {
    try {
      text = readFileSync(value, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'does not exist'
          : code === 'EACCES'
            ? 'this process may not read'
            : `cannot be read (${(err as Error).message})`;
      throw invalidOption(variable, `names ${JSON.stringify(value)}, which ${why}`);
    }
  }
  if (!text.includes('-----BEGIN') || !text.includes(label)) {
    throw invalidOption(variable, `does not hold a PEM ${label.toLowerCase()}`);
  }
  return text;
}

/** Load the PEMs the way the TLS client will, so a mismatched key fails at startup, not at the first connect. */
function checkLoads(files: TlsClientFiles, caVar: string | undefined, pair: { cert: string; key: string }): void {
  if (files.ca !== undefined) {
    try {
      createSecureContext({ ca: files.ca });
    } catch (err) {
      throw invalidOption(caVar!, `holds no usable CA certificate (${(err as Error).message})`);
    }
  }
  if (files.cert !== undefined) {
    try {
      createSecureContext({ cert: files.cert, key: files.key });
    } catch (err) {
      throw invalidOption(`${pair.cert}/${pair.key}`, `cannot be used together (${(err as Error).message})`);
    }
  }
}
