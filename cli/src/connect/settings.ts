import {
  type AmqpTlsOptions,
  DEFAULT_NAMESPACE,
  type EtcdTlsOptions,
  isSwitchyardError,
  NAMESPACE_PATTERN,
  readAmqpTlsEnv,
  readEtcdTlsEnv,
  SWITCHYARD_ENV,
} from '@switchyard/sdk';
import { UsageError } from '../output/cli-errors.js';

/** The options every command accepts (declared once on the program). */
export interface GlobalOptions {
  etcd?: string;
  amqp?: string;
  namespace?: string;
  json?: boolean;
}

/**
 * Where the servers are. Unlike a service, a command needs only the server it talks to
 * (`routes` needs etcd, `call` needs RabbitMQ), so each one is required only when used.
 */
export interface CliSettings {
  /** etcd client URLs; empty when neither `--etcd` nor SWITCHYARD_ETCD is set. */
  readonly etcdEndpoints: readonly string[];
  readonly amqpUrl: string | undefined;
  readonly namespace: string;
  /** Print machine-readable JSON on stdout instead of tables and text. */
  readonly json: boolean;
  /** From SWITCHYARD_AMQP_CA/CERT/KEY/SERVERNAME (or SWITCHYARD_TLS_CLIENT_*) for an amqps:// URL. */
  readonly amqpTls: Readonly<AmqpTlsOptions> | undefined;
  /** From SWITCHYARD_ETCD_CA/CERT/KEY (or SWITCHYARD_TLS_CLIENT_*) for https:// endpoints. */
  readonly etcdTls: Readonly<EtcdTlsOptions> | undefined;
}

const ETCD_ENDPOINT = /^(https?:\/\/)?[^\s/,]+:\d+\/?$/;

/** Flags beat the environment; empty values count as unset. Throws UsageError naming the flag or variable. */
export function resolveSettings(opts: GlobalOptions, env: Readonly<Record<string, string | undefined>>): CliSettings {
  const read = (name: string) => {
    const v = env[name]?.trim();
    return v === '' ? undefined : v;
  };
  const etcdSource = opts.etcd !== undefined ? '--etcd' : SWITCHYARD_ENV.etcd;
  const etcdRaw = opts.etcd ?? read(SWITCHYARD_ENV.etcd);
  const etcdEndpoints = (etcdRaw ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  for (const e of etcdEndpoints) {
    if (!ETCD_ENDPOINT.test(e)) {
      throw new UsageError(`${etcdSource} has ${JSON.stringify(e)}; expected comma-separated http://host:port`);
    }
  }
  const amqpSource = opts.amqp !== undefined ? '--amqp' : SWITCHYARD_ENV.amqp;
  const amqpUrl = opts.amqp ?? read(SWITCHYARD_ENV.amqp);
  if (amqpUrl !== undefined && !isAmqpUrl(amqpUrl)) {
    throw new UsageError(`${amqpSource} must be an amqp:// or amqps:// URL`);
  }
  const nsSource = opts.namespace !== undefined ? '--namespace' : SWITCHYARD_ENV.namespace;
  const namespace = opts.namespace ?? read(SWITCHYARD_ENV.namespace) ?? DEFAULT_NAMESPACE;
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new UsageError(`${nsSource} must match ${NAMESPACE_PATTERN.source}, got ${JSON.stringify(namespace)}`);
  }
  // etcd3 wants a scheme; a bare host:port means plain http.
  const endpoints = etcdEndpoints.map((e) => (/^https?:\/\//.test(e) ? e : `http://${e}`));
  const { amqpTls, etcdTls } = tlsSettings(env, endpoints, amqpUrl, etcdSource, amqpSource);
  return Object.freeze({
    etcdEndpoints: Object.freeze(endpoints),
    amqpUrl,
    namespace,
    json: opts.json === true,
    amqpTls,
    etcdTls,
  });
}

/** The same TLS variables, files and checks as a service's; a TLS problem is a usage error naming the variable. */
function tlsSettings(
  env: Readonly<Record<string, string | undefined>>,
  etcdEndpoints: readonly string[],
  amqpUrl: string | undefined,
  etcdSource: string,
  amqpSource: string,
): Pick<CliSettings, 'amqpTls' | 'etcdTls'> {
  try {
    return {
      etcdTls: readEtcdTlsEnv(env, etcdEndpoints, etcdSource),
      amqpTls: readAmqpTlsEnv(env, amqpUrl, amqpSource),
    };
  } catch (err) {
    if (!isSwitchyardError(err, 'INVALID_OPTIONS')) throw err;
    throw new UsageError((err as Error).message, { cause: err });
  }
}

function isAmqpUrl(url: string): boolean {
  if (!/^amqps?:\/\//.test(url)) return false;
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

/** A URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
