import { type Headers, PermissionDeniedError, UnauthenticatedError } from '@switchyard/broker';
import { HEADER } from '../context/headers.js';
import type { Account } from './account.js';
import { AUTH_HEADER } from './auth-headers.js';
import type { ResourceType } from './rule-set.js';
import type { RuleSource } from './rule-source.js';
import type { TokenVerifier } from './token-verifier.js';

/** Who sent a message, as proven by its tokens. */
export interface VerifiedIdentity {
  /** The sending service's account (its `x-switchyard-token`). */
  readonly service: Account;
  /** The end user the message is for (its `x-switchyard-user-token`), when there is one. */
  readonly user: Account | undefined;
  /** Whom the rules were checked for: the user when present, else the sending service. */
  readonly principal: Account;
}

const verified = new WeakMap<object, VerifiedIdentity>();

/** The verified identity of an incoming request or event (undefined when auth is off). */
export function identityOf(message: object): VerifiedIdentity | undefined {
  return verified.get(message);
}

export interface MessageGuardOptions {
  verifier: TokenVerifier;
  rules: RuleSource;
}

/**
 * The receiving side of service identity, run before any handler: the sender's token
 * must verify, the user token (if any) too, and the rules must grant the principal the
 * resource. Then the identity headers are rewritten from the tokens, so `x-source` and
 * `x-caller` are facts, not claims: whatever the sender wrote there is replaced.
 */
export class MessageGuard {
  readonly #verifier: TokenVerifier;
  readonly #rules: RuleSource;

  constructor(options: MessageGuardOptions) {
    this.#verifier = options.verifier;
    this.#rules = options.rules;
  }

  /**
   * Throws UNAUTHENTICATED (no or bad token) or PERMISSION_DENIED (a rule refused). On
   * success the message's headers are rewritten and its identity recorded for identityOf().
   */
  check(message: { headers: Headers }, type: ResourceType, name: string, graceSec: number): Promise<VerifiedIdentity> {
    try {
      const known = this.checkCached(message, type, name, graceSec);
      if (known !== undefined) return Promise.resolve(known);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#checkSlow(message, type, name, graceSec);
  }

  /**
   * check() without a promise when every token of the message was verified before (the
   * common case: a sender reuses its token for minutes). Undefined: call check().
   * Throws like check() does.
   */
  checkCached(
    message: { headers: Headers },
    type: ResourceType,
    name: string,
    graceSec: number,
  ): VerifiedIdentity | undefined {
    const headers = message.headers;
    const token = headers[AUTH_HEADER.serviceToken];
    if (token === undefined || token === '') throw missingToken(type, name);
    const service = this.#verifier.cached(token, graceSec);
    if (service === undefined) return undefined;
    const userToken = headers[AUTH_HEADER.userToken];
    let user: Account | undefined;
    if (userToken !== undefined && userToken !== '') {
      try {
        user = this.#verifier.cached(userToken, graceSec);
      } catch (err) {
        throw userTokenError(err);
      }
      if (user === undefined) return undefined;
    }
    return this.#decide(message, type, name, service, user);
  }

  async #checkSlow(
    message: { headers: Headers },
    type: ResourceType,
    name: string,
    graceSec: number,
  ): Promise<VerifiedIdentity> {
    const headers = message.headers;
    const token = headers[AUTH_HEADER.serviceToken];
    if (token === undefined || token === '') throw missingToken(type, name);
    const service = await this.#verifier.verify(token, graceSec);
    const userToken = headers[AUTH_HEADER.userToken];
    let user: Account | undefined;
    if (userToken !== undefined && userToken !== '') {
      try {
        user = await this.#verifier.verify(userToken, graceSec);
      } catch (err) {
        throw userTokenError(err);
      }
    }
    return this.#decide(message, type, name, service, user);
  }

  #decide(
    message: { headers: Headers },
    type: ResourceType,
    name: string,
    service: Account,
    user: Account | undefined,
  ): VerifiedIdentity {
    const headers = message.headers;
    const principal = user ?? service;
    const decision = this.#rules.current().verify(principal, type, name);
    if (decision.access === 'denied') {
      throw new PermissionDeniedError(`${principal.type} "${principal.id}" may not ${verb(type)} ${name}`, {
        details: {
          reason: 'denied_by_rule',
          resource: `${type}:${name}`,
          ...(decision.rule === undefined ? {} : { rule: decision.rule }),
        },
      });
    }
    headers[HEADER.source] = service.id;
    if (user === undefined) delete headers[HEADER.caller];
    else headers[HEADER.caller] = user.id;
    const identity: VerifiedIdentity = { service, user, principal };
    verified.set(message, identity);
    return identity;
  }
}

function missingToken(type: ResourceType, name: string) {
  return new UnauthenticatedError(
    `${describe(type, name)} needs a service token (header ${AUTH_HEADER.serviceToken})`,
    {
      details: { reason: 'missing_token' },
    },
  );
}

function userTokenError(err: unknown): unknown {
  const e = err as InstanceType<typeof UnauthenticatedError>;
  if (e.code !== 'UNAUTHENTICATED') return err;
  return new UnauthenticatedError(`the user token is not valid: ${e.message}`, {
    details: { reason: (e.details as { reason?: string } | undefined)?.reason ?? 'invalid_user_token', token: 'user' },
  });
}

function describe(type: ResourceType, name: string): string {
  return type === 'event' ? `event ${name}` : `${name}`;
}

function verb(type: ResourceType): string {
  return type === 'event' ? 'publish' : type === 'route' ? 'use route' : 'call';
}
