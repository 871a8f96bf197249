// Public API of the gateway's auth module, re-exported by gateway/src/index.ts.
export { type AccessDecision, type AccessRule, AccessRules } from './access-rules.js';
export { isJwsAlgorithm, JWS_ALGORITHMS, type JwsAlgorithm, type KeyFamily } from './algorithms.js';
export { API_KEY_DEFAULTS, type ApiKeyEntry, ApiKeyStore, type ApiKeyStoreOptions } from './api-keys.js';
export { type AuthErrorDetails, type AuthFailureReason, wwwAuthenticateOf } from './auth-errors.js';
export { AuthGuard, type AuthGuardOptions, type AuthRequest } from './auth-guard.js';
export {
  DEV_JWT_SECRET_ENV,
  DEV_KEY_ID,
  DEV_TOKEN_AUDIENCE,
  DEV_TOKEN_ISSUER,
  DEV_TOKEN_TTL_SEC,
  type DevSecret,
  type DevTokenOptions,
  devJwtSecret,
  devJwtVerifierOptions,
  devKeyConfig,
  signDevToken,
} from './dev-token.js';
export { ANONYMOUS, type AuthMethod, type Identity } from './identity.js';
export {
  DEFAULT_FORWARD_CLAIMS,
  decodeClaimsHeader,
  type HeaderCarrier,
  IDENTITY_HEADER_NAMES,
  IDENTITY_HEADERS,
  IdentityHeaderWriter,
  stripIdentityHeaders,
} from './identity-headers.js';
export { JWKS_DEFAULTS, JwksKeySource, type JwksKeySourceOptions } from './jwks-key-source.js';
export { JWT_VERIFIER_DEFAULTS, JwtVerifier, type JwtVerifierOptions, type VerifierStats } from './jwt-verifier.js';
export type { KeySource, ResolvedKey } from './key-source.js';
export { PathPattern, pathSegments } from './path-pattern.js';
export { AUTH_MODES, type AuthMode, compileRouteAuth, type RouteAuth, type RouteAuthConfig } from './route-auth.js';
export { scopesFromClaims } from './scopes.js';
export {
  type JwkKeyConfig,
  type PemKeyConfig,
  type SecretKeyConfig,
  type StaticKeyConfig,
  StaticKeySource,
  type StaticKeySourceOptions,
} from './static-key-source.js';
export { TOKEN_CACHE_DEFAULTS, type TokenCacheOptions } from './token-cache.js';
export { DEFAULT_REALM } from './www-authenticate.js';
