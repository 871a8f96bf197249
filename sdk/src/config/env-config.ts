import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AmqpTlsOptions } from '@switchyard/broker';
import type { EtcdTlsOptions } from '../registry/etcd-client.js';
import { NAMESPACE_PATTERN } from '../registry/keys.js';
import { invalidOption } from './check.js';
import { readAmqpTlsEnv, readEtcdTlsEnv } from './tls-env.js';

/** The environment variables Switchyard reads, by purpose. */
export const SWITCHYARD_ENV = Object.freeze({
  /** etcd client URLs, comma-separated, e.g. `http://10.0.0.5:2379,http://10.0.0.6:2379`. */
  etcd: 'SWITCHYARD_ETCD',
  /** AMQP URL of RabbitMQ, e.g. `amqp://user:pass@rabbit:5672`. */
  amqp: 'SWITCHYARD_AMQP',
  /** Namespace of registry keys and of exchange/queue names. Default `switchyard`. */
  namespace: 'SWITCHYARD_NAMESPACE',
  /** A directory of JSON Schemas, `etcd` (published schemas) or `none`. Default `./schemas` when it exists. */
  schemas: 'SWITCHYARD_SCHEMAS',
});

export const DEFAULT_NAMESPACE = 'switchyard';
export const DEFAULT_SCHEMAS_DIR = './schemas';

/** Where schemas come from. */
export type SchemaSetting = { kind: 'directory'; dir: string } | { kind: 'etcd' } | { kind: 'none' };

/**
 * `servers`: etcd and RabbitMQ are configured. `embedded`: neither is; everything runs in
 * process memory (one process only — services in other processes cannot be reached).
 */
export type InfrastructureMode = 'embedded' | 'servers';

export interface SwitchyardConfig {
  readonly mode: InfrastructureMode;
  /** Empty in embedded mode. */
  readonly etcdEndpoints: readonly string[];
  /** Undefined in embedded mode. */
  readonly amqpUrl: string | undefined;
  readonly namespace: string;
  readonly schemas: SchemaSetting;
  /** TLS of the RabbitMQ links (`amqps://`); undefined: node's root CAs, no client certificate. See TLS_ENV. */
  readonly amqpTls: Readonly<AmqpTlsOptions> | undefined;
  /** TLS of the etcd links (`https://`); undefined: node's root CAs, no client certificate. See TLS_ENV. */
  readonly etcdTls: Readonly<EtcdTlsOptions> | undefined;
}

/** What can override the environment (the same settings, already typed). */
export interface SwitchyardConfigOverrides {
  etcdEndpoints?: string | readonly string[];
  amqpUrl?: string;
  namespace?: string;
  /** A directory, `'etcd'` or `'none'`. */
  schemas?: string;
  /** PEM contents (not paths); replaces SWITCHYARD_AMQP_CA/CERT/KEY/SERVERNAME. */
  amqpTls?: AmqpTlsOptions;
  /** PEM contents (not paths); replaces SWITCHYARD_ETCD_CA/CERT/KEY. */
  etcdTls?: EtcdTlsOptions;
}

export interface ParseConfigOptions {
  /** Base of a relative schema directory. Default `process.cwd()`. */
  cwd?: string;
  /** Test hook: whether a directory exists. */
  isDirectory?: (path: string) => boolean;
}

const ETCD_ENDPOINT = /^(https?:\/\/)?[^\s/,]+:\d+\/?$/;

/**
 * Read the Switchyard settings from `env`, with `overrides` taking precedence (an option
 * given in code beats the environment). Empty values count as unset. Throws
 * INVALID_OPTIONS naming the variable (or option) that is wrong. The result is frozen.
 */
export function parseSwitchyardConfig(
  env: Readonly<Record<string, string | undefined>>,
  overrides: SwitchyardConfigOverrides = {},
  options: ParseConfigOptions = {},
): SwitchyardConfig {
  const cwd = options.cwd ?? process.cwd();
  const isDirectory = options.isDirectory ?? directoryExists;
  const read = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === '' ? undefined : v;
  };

  const etcdSource = overrides.etcdEndpoints !== undefined ? 'etcdEndpoints' : SWITCHYARD_ENV.etcd;
  const etcdRaw = overrides.etcdEndpoints ?? read(SWITCHYARD_ENV.etcd);
  const etcdEndpoints = parseEndpoints(etcdSource, etcdRaw);

  const amqpSource = overrides.amqpUrl !== undefined ? 'amqpUrl' : SWITCHYARD_ENV.amqp;
  const amqpUrl = overrides.amqpUrl ?? read(SWITCHYARD_ENV.amqp);
  if (amqpUrl !== undefined) checkAmqpUrl(amqpSource, amqpUrl);

  if (etcdEndpoints.length > 0 && amqpUrl === undefined) {
    throw invalidOption(
      amqpSource,
      `is required when ${etcdSource} is set: Switchyard needs both etcd and RabbitMQ, or neither (embedded mode)`,
    );
  }
  if (amqpUrl !== undefined && etcdEndpoints.length === 0) {
    throw invalidOption(
      etcdSource,
      `is required when ${amqpSource} is set: Switchyard needs both etcd and RabbitMQ, or neither (embedded mode)`,
    );
  }
  const mode: InfrastructureMode = amqpUrl === undefined ? 'embedded' : 'servers';

  const nsSource = overrides.namespace !== undefined ? 'namespace' : SWITCHYARD_ENV.namespace;
  const namespace = overrides.namespace ?? read(SWITCHYARD_ENV.namespace) ?? DEFAULT_NAMESPACE;
  if (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace)) {
    throw invalidOption(nsSource, `must match ${NAMESPACE_PATTERN.source}, got ${JSON.stringify(namespace)}`);
  }

  const schemasSource = overrides.schemas !== undefined ? 'schemas' : SWITCHYARD_ENV.schemas;
  const schemasRaw = overrides.schemas ?? read(SWITCHYARD_ENV.schemas);
  let schemas: SchemaSetting;
  if (schemasRaw === undefined) {
    const dir = resolve(cwd, DEFAULT_SCHEMAS_DIR);
    if (isDirectory(dir)) schemas = { kind: 'directory', dir };
    else schemas = mode === 'servers' ? { kind: 'etcd' } : { kind: 'none' };
  } else if (typeof schemasRaw !== 'string' || schemasRaw === '') {
    throw invalidOption(schemasSource, 'must be a directory, "etcd" or "none"');
  } else if (schemasRaw === 'none') {
    schemas = { kind: 'none' };
  } else if (schemasRaw === 'etcd') {
    if (mode !== 'servers') throw invalidOption(schemasSource, 'is "etcd" but no etcd is configured');
    schemas = { kind: 'etcd' };
  } else {
    const dir = resolve(cwd, schemasRaw);
    if (!isDirectory(dir)) throw invalidOption(schemasSource, `names ${JSON.stringify(dir)}, which is not a directory`);
    schemas = { kind: 'directory', dir };
  }

  const etcdTls = overrides.etcdTls ?? readEtcdTlsEnv(env, etcdEndpoints, etcdSource);
  const amqpTls = overrides.amqpTls ?? readAmqpTlsEnv(env, amqpUrl, amqpSource);

  return Object.freeze({
    mode,
    etcdEndpoints: Object.freeze(etcdEndpoints),
    amqpUrl,
    namespace,
    schemas: Object.freeze(schemas),
    amqpTls,
    etcdTls,
  });
}

function parseEndpoints(source: string, raw: string | readonly string[] | undefined): string[] {
  if (raw === undefined) return [];
  const list = typeof raw === 'string' ? raw.split(',') : [...raw];
  const endpoints = list.map((e) => (typeof e === 'string' ? e.trim() : e)).filter((e) => e !== '');
  for (const e of endpoints) {
    if (typeof e !== 'string' || !ETCD_ENDPOINT.test(e)) {
      throw invalidOption(source, `has ${JSON.stringify(e)}; expected comma-separated "http://host:port"`);
    }
  }
  // etcd3 wants a scheme; a bare host:port means plain http.
  return endpoints.map((e) => (/^https?:\/\//.test(e) ? e : `http://${e}`));
}

function checkAmqpUrl(source: string, url: unknown): void {
  if (typeof url !== 'string' || !/^amqps?:\/\//.test(url)) {
    throw invalidOption(source, 'must be an amqp:// or amqps:// URL');
  }
  try {
    new URL(url);
  } catch {
    throw invalidOption(source, 'is not a valid URL');
  }
}

function directoryExists(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
