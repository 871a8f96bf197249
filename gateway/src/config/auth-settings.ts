import { readPem } from '@switchyard/sdk';
import { isJwsAlgorithm, type JwsAlgorithm } from '../auth/algorithms.js';
import { AuthGuard, type AuthGuardOptions } from '../auth/auth-guard.js';
import { devJwtVerifierOptions } from '../auth/dev-token.js';
import { JwksKeySource } from '../auth/jwks-key-source.js';
import { StaticKeySource } from '../auth/static-key-source.js';
import { type Env, GATEWAY_ENV, readEnv, readEnvList } from './gateway-env.js';
import { invalidOption, isPlainObject } from './option-checks.js';

/**
 * Where the gateway's credentials come from:
 * - `options`: the `auth` option (AuthGuard options or an AuthGuard);
 * - `jwks`: SWITCHYARD_JWKS_URL (with SWITCHYARD_JWT_ISSUER / _AUDIENCE / _ALGORITHMS);
 * - `public-key`: SWITCHYARD_JWT_PUBLIC_KEY, one static public key (same companions);
 * - `switchyard`: auth is on (SWITCHYARD_AUTH_URL): tokens of the Switchyard auth service (its JWKS, issuer, audience);
 * - `dev`: DEVELOPMENT tokens (HS256, SWITCHYARD_DEV_JWT_SECRET, or a per-process secret in embedded mode);
 * - `none`: nothing: only routes with `auth.mode` `off` or `optional` can be served.
 */
export type AuthSettingSource = 'options' | 'jwks' | 'public-key' | 'switchyard' | 'dev' | 'none';

/** The Switchyard auth service the infrastructure trusts (auth on), whose tokens the gateway then verifies by default. */
export interface SwitchyardIssuer {
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly audience: string;
}

export interface AuthSetting {
  readonly source: AuthSettingSource;
  readonly guard: AuthGuard | AuthGuardOptions;
}

/**
 * The auth setting from the `auth` option, else the environment. Without a JWKS, dev
 * tokens are accepted in embedded mode (a per-process secret unless
 * SWITCHYARD_DEV_JWT_SECRET is set), and with servers only when that secret is set.
 */
export function resolveAuth(
  value: unknown,
  env: Env,
  embedded: boolean,
  switchyard?: SwitchyardIssuer | undefined,
): AuthSetting {
  if (value !== undefined) {
    if (!(value instanceof AuthGuard) && !isPlainObject(value)) {
      throw invalidOption('auth', 'must be AuthGuard options or an AuthGuard');
    }
    return { source: 'options', guard: value as AuthGuard | AuthGuardOptions };
  }
  const jwksUrl = readEnv(env, GATEWAY_ENV.jwksUrl);
  const publicKey = readEnv(env, GATEWAY_ENV.jwtPublicKey);
  const issuer = readEnvList(env, GATEWAY_ENV.jwtIssuer);
  const audience = readEnvList(env, GATEWAY_ENV.jwtAudience);
  if (jwksUrl !== undefined && publicKey !== undefined) {
    throw invalidOption(GATEWAY_ENV.jwtPublicKey, `and ${GATEWAY_ENV.jwksUrl} are both set; set one`);
  }
  if (publicKey !== undefined) {
    return {
      source: 'public-key',
      guard: {
        jwt: {
          keySource: publicKeySource(publicKey, readAlgorithms(env)),
          ...(issuer ? { issuer } : {}),
          ...(audience ? { audience } : {}),
        },
      },
    };
  }
  if (jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(jwksUrl);
    } catch {
      throw invalidOption(GATEWAY_ENV.jwksUrl, `is not a URL: ${JSON.stringify(jwksUrl)}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalidOption(GATEWAY_ENV.jwksUrl, 'must be an http(s) URL');
    }
    const algorithms = readAlgorithms(env);
    const keySource = new JwksKeySource({
      url,
      ...(algorithms ? { algorithms } : {}),
    });
    return {
      source: 'jwks',
      guard: {
        jwt: {
          keySource,
          ...(issuer ? { issuer } : {}),
          ...(audience ? { audience } : {}),
        },
      },
    };
  }
  if (switchyard !== undefined) {
    return {
      source: 'switchyard',
      guard: {
        jwt: {
          // What the auth service signs with; a rotation's new kid is fetched after a 1 s cooldown, not jose's 30 s.
          keySource: new JwksKeySource({
            url: new URL(switchyard.jwksUrl),
            algorithms: ['EdDSA', 'ES256', 'RS256'],
            cooldownMs: 1_000,
          }),
          issuer: switchyard.issuer,
          audience: switchyard.audience,
        },
      },
    };
  }
  if (readEnv(env, GATEWAY_ENV.devJwtSecret) !== undefined || embedded) {
    // devJwtVerifierOptions validates the secret (InvalidOptionsError naming the variable).
    return { source: 'dev', guard: { jwt: devJwtVerifierOptions(env as NodeJS.ProcessEnv) } };
  }
  return { source: 'none', guard: {} };
}

function readAlgorithms(env: Env): JwsAlgorithm[] | undefined {
  const algorithms = readEnvList(env, GATEWAY_ENV.jwtAlgorithms);
  if (algorithms !== undefined && !algorithms.every(isJwsAlgorithm)) {
    throw invalidOption(GATEWAY_ENV.jwtAlgorithms, `has an unknown algorithm: ${algorithms.join(', ')}`);
  }
  return algorithms as JwsAlgorithm[] | undefined;
}

/** The key SWITCHYARD_JWT_PUBLIC_KEY names (file or PEM text); every refusal names the variable. */
function publicKeySource(value: string, algorithms: JwsAlgorithm[] | undefined): StaticKeySource {
  const variable = GATEWAY_ENV.jwtPublicKey;
  const notAKey = () => invalidOption(variable, 'does not hold a PEM public key or certificate');
  let pem: string;
  try {
    // readPem reads the file (or takes PEM text); which kind of PEM is checked below.
    pem = readPem(variable, value, '-----BEGIN');
  } catch (err) {
    if (/does not hold a PEM/.test((err as Error).message)) throw notAKey();
    throw err;
  }
  if (/PRIVATE KEY-----/.test(pem)) throw invalidOption(variable, 'holds a private key; give the public key only');
  if (!/-----BEGIN (PUBLIC KEY|CERTIFICATE)-----/.test(pem)) throw notAKey();
  try {
    return new StaticKeySource({ keys: [{ type: 'pem', pem, ...(algorithms ? { algorithms } : {}) }] });
  } catch (err) {
    // StaticKeySource names its own option (keys[0].pem): say which variable it came from.
    const why = (err as Error).message.replace(/^keys\[0\]\.pem\s*/, '');
    throw invalidOption(variable, why);
  }
}
