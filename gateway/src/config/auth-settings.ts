import { isJwsAlgorithm, type JwsAlgorithm } from '../auth/algorithms.js';
import { AuthGuard, type AuthGuardOptions } from '../auth/auth-guard.js';
import { devJwtVerifierOptions } from '../auth/dev-token.js';
import { JwksKeySource } from '../auth/jwks-key-source.js';
import { type Env, GATEWAY_ENV, readEnv, readEnvList } from './gateway-env.js';
import { invalidOption, isPlainObject } from './option-checks.js';

/**
 * Where the gateway's credentials come from:
 * - `options`: the `auth` option (AuthGuard options or an AuthGuard);
 * - `jwks`: SWITCHYARD_JWKS_URL (with SWITCHYARD_JWT_ISSUER / _AUDIENCE / _ALGORITHMS);
 * - `switchyard`: auth is on (SWITCHYARD_AUTH_URL): tokens of the Switchyard auth service (its JWKS, issuer, audience);
 * - `dev`: DEVELOPMENT tokens (HS256, SWITCHYARD_DEV_JWT_SECRET, or a per-process secret in embedded mode);
 * - `none`: nothing: only routes with `auth.mode` `off` or `optional` can be served.
 */
export type AuthSettingSource = 'options' | 'jwks' | 'switchyard' | 'dev' | 'none';

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
  const issuer = readEnvList(env, GATEWAY_ENV.jwtIssuer);
  const audience = readEnvList(env, GATEWAY_ENV.jwtAudience);
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
    const algorithms = readEnvList(env, GATEWAY_ENV.jwtAlgorithms);
    if (algorithms !== undefined && !algorithms.every(isJwsAlgorithm)) {
      throw invalidOption(GATEWAY_ENV.jwtAlgorithms, `has an unknown algorithm: ${algorithms.join(', ')}`);
    }
    const keySource = new JwksKeySource({
      url,
      ...(algorithms ? { algorithms: algorithms as JwsAlgorithm[] } : {}),
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
