import type { Transport } from '@switchyard/broker';
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../config/logger.js';
import type { AuthSettings } from './auth-settings.js';
import { EtcdRuleSource } from './etcd-rule-source.js';
import { MemoryRuleSource } from './memory-rule-source.js';
import { MessageGuard } from './message-guard.js';
import type { RuleSource } from './rule-source.js';
import { DEFAULT_EVENT_GRACE_SEC, SecuredTransport, type TokenProvider } from './secured-transport.js';
import { type ServiceCredentials, TokenClient } from './token-client.js';
import { TokenVerifier } from './token-verifier.js';

/** What an infrastructure with auth on gives its services and its gateway. */
export interface InfrastructureAuth {
  readonly issuer: string;
  readonly tokenUrl: string;
  readonly jwksUrl: string;
  readonly audience: string;
  readonly verifier: TokenVerifier;
  /** The access rules in force (hot-reloaded). */
  readonly rules: RuleSource;
  readonly guard: MessageGuard;
  /** A token client for a service account (call start() on it). */
  tokenClient(credentials: ServiceCredentials, logger?: Logger): TokenClient;
  /** The shared transport as seen by one identity: its token out, every message in verified. */
  secure(transport: Transport, identity: TokenProvider): Transport;
}

export interface AuthParts {
  readonly auth: InfrastructureAuth;
  /** Start before use; close in this order. */
  readonly owned: ReadonlyArray<{ start?(): Promise<void>; close(): Promise<void> | void }>;
}

/** Build the auth side of an infrastructure: verifier, rule source (etcd with servers, memory embedded), guard. */
export function createInfrastructureAuth(
  settings: AuthSettings,
  context: { etcd: (() => Etcd3) | undefined; namespace: string; logger: Logger },
): AuthParts {
  const owned: Array<{ start?(): Promise<void>; close(): Promise<void> | void }> = [];
  let rules: RuleSource | undefined = settings.rules;
  if (!rules) {
    if (context.etcd) {
      const client = context.etcd();
      rules = new EtcdRuleSource({ client, namespace: context.namespace, logger: context.logger });
      owned.push(rules, { close: () => client.close() });
    } else {
      rules = new MemoryRuleSource();
      owned.push(rules);
    }
  }
  const verifier = new TokenVerifier({
    issuer: settings.issuer,
    jwksUrl: settings.jwksUrl,
    audience: settings.audience,
  });
  const guard = new MessageGuard({ verifier, rules });
  const grace = settings.eventGraceSec ?? DEFAULT_EVENT_GRACE_SEC;
  const auth: InfrastructureAuth = Object.freeze({
    issuer: settings.issuer,
    tokenUrl: settings.tokenUrl,
    jwksUrl: settings.jwksUrl,
    audience: settings.audience,
    verifier,
    rules,
    guard,
    tokenClient: (credentials: ServiceCredentials, logger?: Logger) =>
      new TokenClient({ tokenUrl: settings.tokenUrl, credentials, ...(logger ? { logger } : {}) }),
    secure: (transport: Transport, identity: TokenProvider) =>
      new SecuredTransport(transport, { identity, guard, eventGraceSec: grace }),
  });
  return { auth, owned };
}
