export {
  type Account,
  type AccountType,
  ANY_ACCOUNT_SCOPE,
  DEFAULT_TOKEN_AUDIENCE,
  PUBLIC_SCOPE,
  TOKEN_CLAIM,
} from './account.js';
export { AUTH_HEADER } from './auth-headers.js';
export {
  AUTH_ENV,
  type AuthOptions,
  type AuthSettings,
  credentialsFromEnv,
  parseAuthSettings,
} from './auth-settings.js';
export { EtcdRuleSource, type EtcdRuleSourceOptions } from './etcd-rule-source.js';
export { type AuthParts, createInfrastructureAuth, type InfrastructureAuth } from './infrastructure-auth.js';
export { MemoryRuleSource } from './memory-rule-source.js';
export { identityOf, MessageGuard, type MessageGuardOptions, type VerifiedIdentity } from './message-guard.js';
export { AUTH_RULE_SCHEMA_FILE, assertRule, checkRule, type RuleCheck } from './rule-schema.js';
export {
  type AccessDecision,
  type AuthRule,
  DEFAULT_RULES,
  type ResourceType,
  type RuleAccess,
  RuleSet,
} from './rule-set.js';
export { type RuleSource, ruleKey, rulesPrefix } from './rule-source.js';
export {
  DEFAULT_EVENT_GRACE_SEC,
  SecuredTransport,
  type SecuredTransportOptions,
  type TokenProvider,
} from './secured-transport.js';
export { type ServiceCredentials, TokenClient, type TokenClientOptions } from './token-client.js';
export { TOKEN_VERIFIER_DEFAULTS, TokenVerifier, type TokenVerifierOptions } from './token-verifier.js';
