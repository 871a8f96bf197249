import { readFileSync } from 'node:fs';
import { type Env, GATEWAY_ENV, readEnv } from './gateway-env.js';
import { invalidOption, isPlainObject, knownKeys } from './option-checks.js';

/** HTTPS for the public listener. Each PEM value is either the PEM text or a path to a PEM file. */
export interface GatewayTlsOptions {
  /** Certificate chain (leaf first). */
  cert: string;
  /** Private key of the certificate. */
  key: string;
  /** Extra CA certificates to present, if any. */
  ca?: string;
  /** Passphrase of an encrypted key. */
  passphrase?: string;
}

/** What `https.createServer` gets: PEM text, read once at startup. */
export interface ResolvedTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string | undefined;
  readonly passphrase: string | undefined;
}

const KNOWN = ['cert', 'key', 'ca', 'passphrase'];

/**
 * The TLS settings from `tls`, else from SWITCHYARD_TLS_CERT / SWITCHYARD_TLS_KEY (both or
 * neither); undefined means plain HTTP. Files are read here, once: a missing or unreadable
 * file fails the startup with the option named, not the first handshake.
 */
export function resolveTls(value: unknown, env: Env): ResolvedTls | undefined {
  if (value === undefined) {
    const cert = readEnv(env, GATEWAY_ENV.tlsCert);
    const key = readEnv(env, GATEWAY_ENV.tlsKey);
    if (cert === undefined && key === undefined) return undefined;
    if (cert === undefined) throw invalidOption(GATEWAY_ENV.tlsCert, `is required when ${GATEWAY_ENV.tlsKey} is set`);
    if (key === undefined) throw invalidOption(GATEWAY_ENV.tlsKey, `is required when ${GATEWAY_ENV.tlsCert} is set`);
    return Object.freeze({
      cert: pem(GATEWAY_ENV.tlsCert, cert, 'CERTIFICATE'),
      key: pem(GATEWAY_ENV.tlsKey, key, 'PRIVATE KEY'),
      ca: undefined,
      passphrase: undefined,
    });
  }
  if (!isPlainObject(value)) throw invalidOption('tls', 'must be an object { cert, key }');
  knownKeys('tls', value, KNOWN);
  if (value.passphrase !== undefined && typeof value.passphrase !== 'string') {
    throw invalidOption('tls.passphrase', 'must be a string');
  }
  return Object.freeze({
    cert: pem('tls.cert', value.cert, 'CERTIFICATE'),
    key: pem('tls.key', value.key, 'PRIVATE KEY'),
    ca: value.ca === undefined ? undefined : pem('tls.ca', value.ca, 'CERTIFICATE'),
    passphrase: value.passphrase as string | undefined,
  });
}

/** PEM text as given, or the content of the file it names. */
export function pem(option: string, value: unknown, label: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalidOption(option, 'must be PEM text or the path of a PEM file');
  }
  let text = value;
  if (!value.includes('-----BEGIN')) {
    try {
      text = readFileSync(value, 'utf8');
    } catch (err) {
      throw invalidOption(option, `names ${JSON.stringify(value)}, which cannot be read (${(err as Error).message})`);
    }
  }
  if (!text.includes('-----BEGIN') || !text.includes(label)) {
    throw invalidOption(option, `does not hold a PEM ${label.toLowerCase()}`);
  }
  return text;
}
