/**
 * @switchyard/auth: the `switchyard auth` service (accounts, OAuth 2.0 token endpoint,
 * JWKS, signing-key rotation). Services never import this package: they verify tokens
 * with the SDK's verifier against the published JWKS.
 */
export { ACCOUNT_ID_PATTERN, Accounts, type AccountView, type CreateAccountInput } from './accounts/accounts.js';
export { CA_CERT_FILE, CA_KEY_FILE } from './ca/ca-files.js';
export {
  type CaResult,
  DEFAULT_CA_COMMON_NAME,
  DEFAULT_CA_VALIDITY_DAYS,
  type InitCaOptions,
  initCa,
} from './ca/init-ca.js';
export { DEFAULT_CERT_VALIDITY_DAYS, type IssueCertOptions, type IssuedCert, issueCert } from './ca/issue-cert.js';
export type { KeyType } from './ca/key-pair.js';
export { decryptPrivateKey, encryptPrivateKey, MASTER_KEY_ENV, parseMasterKey } from './keys/key-encryption.js';
export { addSigningKey, KeyRing, type KeyRingOptions, type SigningAlgorithm } from './keys/key-ring.js';
export { OAUTH_ERRORS, OAuthError, type OAuthErrorCode } from './oauth/oauth-error.js';
export {
  DEFAULT_HASH_PARAMS,
  generateSecret,
  type HashParams,
  hashSecret,
  verifySecret,
} from './secrets/secret-hash.js';
export { AUTH_SERVER_DEFAULTS, type AuthServerOptions } from './server/auth-options.js';
export { AuthServer, createAuthServer } from './server/auth-server.js';
export { AUTH_SERVICE_ENV, runAuthService } from './server/run-auth-service.js';
export type { AccountRecord, AuthStore, KeyRecord, RefreshRecord } from './store/auth-store.js';
export { EtcdAuthStore, type EtcdAuthStoreOptions } from './store/etcd/etcd-auth-store.js';
export { authPrefix } from './store/etcd/etcd-keys.js';
export { MemoryAuthStore } from './store/memory/memory-auth-store.js';
