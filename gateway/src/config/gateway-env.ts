/**
 * The environment variables the gateway reads on top of the SDK's (SWITCHYARD_ETCD,
 * SWITCHYARD_AMQP, SWITCHYARD_NAMESPACE, SWITCHYARD_SCHEMAS: see `SWITCHYARD_ENV` in
 * @switchyard/sdk). An option given in code always beats its variable; an empty variable
 * counts as unset.
 */
export const GATEWAY_ENV = Object.freeze({
  /** Port of the public listener. Default 8080. */
  port: 'SWITCHYARD_GATEWAY_PORT',
  /** Interface of the public listener. Default `0.0.0.0`. */
  host: 'SWITCHYARD_GATEWAY_HOST',
  /** Port of the admin listener (`/metrics`, `/healthz`, `/readyz`, `/_switchyard/routes`). Default 9090; `off` disables it. */
  adminPort: 'SWITCHYARD_ADMIN_PORT',
  /** Routes file read when no etcd is configured (embedded mode). Default `routes.yaml`. */
  routesFile: 'SWITCHYARD_ROUTES_FILE',
  /** JWKS endpoint of the identity provider: bearer JWTs are verified against it. */
  jwksUrl: 'SWITCHYARD_JWKS_URL',
  /**
   * The identity provider's public key (SPKI `BEGIN PUBLIC KEY` or an X.509 certificate):
   * a PEM file path or the PEM text. Bearer JWTs are verified against it, for providers
   * without a JWKS endpoint. Not together with SWITCHYARD_JWKS_URL.
   */
  jwtPublicKey: 'SWITCHYARD_JWT_PUBLIC_KEY',
  /** Accepted `iss` value(s), comma-separated. */
  jwtIssuer: 'SWITCHYARD_JWT_ISSUER',
  /** Accepted `aud` value(s), comma-separated. */
  jwtAudience: 'SWITCHYARD_JWT_AUDIENCE',
  /** Algorithms accepted from the JWKS or the public key, comma-separated. Default: JWKS `RS256`; a public key its type's (RS256, ES256/384/512, EdDSA). */
  jwtAlgorithms: 'SWITCHYARD_JWT_ALGORITHMS',
  /** DEVELOPMENT ONLY: HS256 secret of development tokens (see docs/auth.md). */
  devJwtSecret: 'SWITCHYARD_DEV_JWT_SECRET',
  /** Proxies allowed to set the client address: `false` (default), a hop count, or networks, comma-separated. */
  trustProxy: 'SWITCHYARD_TRUST_PROXY',
  /** Redis URL for rate-limit counters shared by several gateways. */
  redis: 'SWITCHYARD_REDIS',
  /** TLS certificate chain of the public listener: a PEM file path or the PEM text. */
  tlsCert: 'SWITCHYARD_TLS_CERT',
  /** TLS private key of the public listener: a PEM file path or the PEM text. */
  tlsKey: 'SWITCHYARD_TLS_KEY',
  /** CA certificates (a PEM file path or the PEM text) trusted for `https://` instances; default Node's CAs. */
  upstreamCa: 'SWITCHYARD_UPSTREAM_CA',
  /** Gateway processes on this machine (node cluster). Default 1. */
  workers: 'SWITCHYARD_GATEWAY_WORKERS',
  /** pino level of the gateway's logger. Default `info`. */
  logLevel: 'SWITCHYARD_LOG_LEVEL',
});

export type Env = Readonly<Record<string, string | undefined>>;

/** A variable's trimmed value; undefined when unset or empty. */
export function readEnv(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** A comma-separated variable as a list of non-empty items. */
export function readEnvList(env: Env, name: string): string[] | undefined {
  const v = readEnv(env, name);
  if (v === undefined) return undefined;
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return items.length > 0 ? items : undefined;
}
