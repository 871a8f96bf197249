import { createSecureContext } from 'node:tls';
import { InvalidOptionsError } from '../errors.js';

/** PEM text (a string or its bytes). */
export type Pem = string | Buffer;

/**
 * TLS of the links to RabbitMQ (`amqps://` URLs), handed to node's `tls.connect` through
 * amqplib's socket options. Values are PEM contents, not file paths: the SDK reads the
 * SWITCHYARD_AMQP_* files once at startup and passes what they hold.
 */
export interface AmqpTlsOptions {
  /** CA certificate(s) RabbitMQ's certificate must chain to. Default: node's root CAs. */
  ca?: Pem | readonly Pem[];
  /** Client certificate (chain, leaf first), for servers that ask for one (`verify_peer`). Needs `key`. */
  cert?: Pem;
  /** Private key of `cert`. */
  key?: Pem;
  /**
   * Name RabbitMQ's certificate must carry (SNI and hostname check). Default: the URL's
   * host name; for an IP address host the certificate must carry that IP.
   */
  servername?: string;
  /** Refuse a server whose certificate does not verify. Default true; false only for debugging. */
  rejectUnauthorized?: boolean;
}

const KNOWN = ['ca', 'cert', 'key', 'servername', 'rejectUnauthorized'];

function bad(option: string, problem: string): InstanceType<typeof InvalidOptionsError> {
  return new InvalidOptionsError(`${option} ${problem}`, { details: { option } });
}

function isPem(value: unknown): value is Pem {
  return (typeof value === 'string' && value.trim() !== '') || Buffer.isBuffer(value);
}

/**
 * Validate `tls` against the URL once, at construction. TLS settings on a plain `amqp://`
 * URL are an error, not a warning: the operator believes the link is encrypted and it
 * would not be. The PEMs are loaded into a secure context here so a bad certificate, a key
 * that does not match it or garbage fails now, naming the option, not at the first connect.
 */
export function resolveTlsOptions(url: string, value: unknown): Readonly<AmqpTlsOptions> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('tls', 'must be an object { ca?, cert?, key?, servername?, rejectUnauthorized? }');
  }
  const tls = value as Record<string, unknown>;
  for (const key of Object.keys(tls)) {
    if (!KNOWN.includes(key)) throw bad(`tls.${key}`, `is not a known option (known: ${KNOWN.join(', ')})`);
  }
  if (!url.startsWith('amqps://')) {
    throw bad('tls', `is set but url is not amqps:// (${url.split(':')[0]}://): the link would not be encrypted`);
  }
  const { ca, cert, key, servername, rejectUnauthorized } = tls;
  if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.length > 0 && ca.every(isPem))) {
    throw bad('tls.ca', 'must be PEM text (a string or Buffer) or a non-empty array of them');
  }
  if (cert !== undefined && !isPem(cert)) throw bad('tls.cert', 'must be PEM text (a string or Buffer)');
  if (key !== undefined && !isPem(key)) throw bad('tls.key', 'must be PEM text (a string or Buffer)');
  if ((cert === undefined) !== (key === undefined)) {
    throw bad(
      'tls.cert/tls.key',
      `must be given together (${cert === undefined ? 'tls.key' : 'tls.cert'} alone is set)`,
    );
  }
  if (servername !== undefined && (typeof servername !== 'string' || servername === '')) {
    throw bad('tls.servername', 'must be a non-empty host name');
  }
  if (rejectUnauthorized !== undefined && typeof rejectUnauthorized !== 'boolean') {
    throw bad('tls.rejectUnauthorized', 'must be a boolean');
  }
  const resolved: AmqpTlsOptions = {};
  if (ca !== undefined) resolved.ca = Array.isArray(ca) ? Object.freeze([...ca]) : (ca as Pem);
  if (cert !== undefined) resolved.cert = cert as Pem;
  if (key !== undefined) resolved.key = key as Pem;
  if (servername !== undefined) resolved.servername = servername as string;
  if (rejectUnauthorized !== undefined) resolved.rejectUnauthorized = rejectUnauthorized as boolean;
  try {
    createSecureContext({ ca: resolved.ca as Pem[] | Pem | undefined, cert: resolved.cert, key: resolved.key });
  } catch (err) {
    const option = cert !== undefined && /key|cert/i.test((err as Error).message) ? 'tls.cert/tls.key' : 'tls';
    throw bad(option, `cannot be loaded: ${(err as Error).message}`);
  }
  return Object.freeze(resolved);
}
