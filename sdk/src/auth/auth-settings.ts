import { readFileSync } from 'node:fs';
import { invalidOption, isPlainObject, knownKeys } from '../config/check.js';
import { DEFAULT_TOKEN_AUDIENCE } from './account.js';
import type { RuleSource } from './rule-source.js';
import type { ServiceCredentials } from './token-client.js';

/** Environment variables of service identity (docs/auth.md, "Service identity"). */
export const AUTH_ENV = Object.freeze({
  /** Base URL (= issuer) of the auth service, e.g. `http://auth:4455`. Setting it switches auth on. */
  url: 'SWITCHYARD_AUTH_URL',
  /** `off` switches auth off even when SWITCHYARD_AUTH_URL is set (local work). */
  mode: 'SWITCHYARD_AUTH',
  /** Audience of the tokens. Default `switchyard`. */
  audience: 'SWITCHYARD_AUTH_AUDIENCE',
  /** The service account's id. */
  clientId: 'SWITCHYARD_CLIENT_ID',
  /** The service account's secret, or: */
  clientSecret: 'SWITCHYARD_CLIENT_SECRET',
  /** a file holding it (Docker/Kubernetes secrets). */
  clientSecretFile: 'SWITCHYARD_CLIENT_SECRET_FILE',
});

/** Auth of an infrastructure, given in code (beats the environment). */
export interface AuthOptions {
  /** The auth service's issuer URL. Required. */
  issuer: string;
  /** Default `<issuer>/oauth/token`. */
  tokenUrl?: string;
  /** Default `<issuer>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Default `switchyard`. */
  audience?: string;
  /** Default: etcd rules under the namespace with servers, the built-in default rule in embedded mode. */
  rules?: RuleSource;
  /** Expired tokens on events are accepted up to this long after expiry. Default 86400. */
  eventGraceSec?: number;
}

export interface AuthSettings {
  readonly issuer: string;
  readonly tokenUrl: string;
  readonly jwksUrl: string;
  readonly audience: string;
  readonly rules: RuleSource | undefined;
  readonly eventGraceSec: number | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

function read(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === '' ? undefined : v;
}

function url(option: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidOption(option, 'must be an http(s) URL');
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw invalidOption(option, `must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/$/, '');
}

/** Auth from options, else the environment; undefined when auth is off. Throws INVALID_OPTIONS naming the bad setting. */
export function parseAuthSettings(env: Env, auth: AuthOptions | false | undefined): AuthSettings | undefined {
  if (auth === false) return undefined;
  if (auth !== undefined) {
    if (!isPlainObject(auth)) throw invalidOption('auth', 'must be an object or false');
    knownKeys('auth', auth as unknown as Record<string, unknown>, [
      'issuer',
      'tokenUrl',
      'jwksUrl',
      'audience',
      'rules',
      'eventGraceSec',
    ]);
    const issuer = url('auth.issuer', auth.issuer);
    const grace = auth.eventGraceSec;
    if (grace !== undefined && (!Number.isInteger(grace) || grace < 0)) {
      throw invalidOption('auth.eventGraceSec', 'must be an integer >= 0');
    }
    return Object.freeze({
      issuer,
      tokenUrl: auth.tokenUrl === undefined ? `${issuer}/oauth/token` : url('auth.tokenUrl', auth.tokenUrl),
      jwksUrl: auth.jwksUrl === undefined ? `${issuer}/.well-known/jwks.json` : url('auth.jwksUrl', auth.jwksUrl),
      audience: auth.audience ?? DEFAULT_TOKEN_AUDIENCE,
      rules: auth.rules,
      eventGraceSec: grace,
    });
  }
  const mode = read(env, AUTH_ENV.mode);
  if (mode !== undefined && mode !== 'on' && mode !== 'off') {
    throw invalidOption(AUTH_ENV.mode, `must be "on" or "off", got ${JSON.stringify(mode)}`);
  }
  const base = read(env, AUTH_ENV.url);
  if (mode === 'off') return undefined;
  if (base === undefined) {
    if (mode === 'on') throw invalidOption(AUTH_ENV.url, `is required when ${AUTH_ENV.mode}=on`);
    return undefined;
  }
  const issuer = url(AUTH_ENV.url, base);
  return Object.freeze({
    issuer,
    tokenUrl: `${issuer}/oauth/token`,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    audience: read(env, AUTH_ENV.audience) ?? DEFAULT_TOKEN_AUDIENCE,
    rules: undefined,
    eventGraceSec: undefined,
  });
}

/** A service account's credentials from the environment; undefined when none are set. */
export function credentialsFromEnv(env: Env): ServiceCredentials | undefined {
  const clientId = read(env, AUTH_ENV.clientId);
  const secretValue = read(env, AUTH_ENV.clientSecret);
  const secretFile = read(env, AUTH_ENV.clientSecretFile);
  if (clientId === undefined && secretValue === undefined && secretFile === undefined) return undefined;
  if (clientId === undefined) throw invalidOption(AUTH_ENV.clientId, 'is required with a client secret');
  if (secretValue !== undefined && secretFile !== undefined) {
    throw invalidOption(AUTH_ENV.clientSecretFile, `and ${AUTH_ENV.clientSecret} are both set: use one`);
  }
  let clientSecret = secretValue;
  if (secretFile !== undefined) {
    try {
      clientSecret = readFileSync(secretFile, 'utf8').trim();
    } catch (err) {
      throw invalidOption(AUTH_ENV.clientSecretFile, `names a file that cannot be read (${(err as Error).message})`);
    }
  }
  if (clientSecret === undefined || clientSecret === '') {
    throw invalidOption(
      AUTH_ENV.clientSecret,
      `(or ${AUTH_ENV.clientSecretFile}) is required with ${AUTH_ENV.clientId}`,
    );
  }
  return { clientId, clientSecret };
}
