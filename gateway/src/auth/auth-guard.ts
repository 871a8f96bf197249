import type { IncomingHttpHeaders } from 'node:http';
import { InvalidOptionsError } from '@switchyard/broker';
import { AUTH_HEADER, type RuleSource, type TokenProvider } from '@switchyard/sdk';
import { accountOf } from './account-of.js';
import { ApiKeyStore, type ApiKeyStoreOptions } from './api-keys.js';
import { insufficientScope, invalidRequest, invalidToken, missingCredentials } from './auth-errors.js';
import { readCredential } from './credentials.js';
import { ANONYMOUS, type Identity } from './identity.js';
import { IdentityHeaderWriter, removeHeaders, stripIdentityHeaders } from './identity-headers.js';
import { JwtVerifier, type JwtVerifierOptions } from './jwt-verifier.js';
import { pathSegments } from './path-pattern.js';
import { compileRouteAuth, type RouteAuth, type RouteAuthConfig } from './route-auth.js';
import { missingScopes } from './scopes.js';
import { DEFAULT_REALM } from './www-authenticate.js';

export interface AuthGuardOptions {
  /** Bearer JWTs. Without it, a bearer token is refused (401). A JwtVerifier instance is owned from then on. */
  jwt?: JwtVerifierOptions | JwtVerifier;
  /** Static API keys. Without them the API-key header is not read (it goes upstream untouched). */
  apiKeys?: ApiKeyStoreOptions | ApiKeyStore;
  /** `realm` of challenges. Default `switchyard` (also passed to a verifier built from options). */
  realm?: string;
  /** Claims copied into `x-switchyard-claims`. Default DEFAULT_FORWARD_CLAIMS. */
  forwardClaims?: string[];
  /**
   * Forward the `Authorization` / API-key header upstream after the gateway verified it.
   * Default false: the credential is consumed at the edge and the upstream trusts the
   * identity headers. Credentials on `off` routes are never touched.
   */
  forwardCredentials?: boolean;
}

/** What authorize() needs of a request: node:http's IncomingMessage fits. */
export interface AuthRequest {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  rawHeaders?: string[];
}

/**
 * The gateway's authentication and authorization policy for one request:
 *
 *     const guard = new AuthGuard({ jwt: { keySource, issuer, audience } });
 *     await guard.start();
 *     const auth = guard.compileRoute(route.auth);          // once, when routes load
 *     const identity = await guard.authorize(req, auth);   // per request; throws 401/403/400
 *
 * authorize() rewrites `req.headers` for the upstream: it always strips client-sent
 * identity headers, then (modes required/optional) sets the verified ones and removes the
 * consumed credential. Errors carry `details.wwwAuthenticate` for the response header.
 */
export class AuthGuard {
  readonly realm: string;
  readonly #jwt: JwtVerifier | undefined;
  readonly #apiKeys: ApiKeyStore | undefined;
  readonly #writer: IdentityHeaderWriter;
  readonly #consumed: ReadonlySet<string>;
  readonly #forwardCredentials: boolean;
  #rules: RuleSource | undefined;
  #identity: { issuer: string; gateway: TokenProvider } | undefined;
  #started: Promise<void> | undefined;
  #closed = false;

  constructor(options: AuthGuardOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionsError('options must be an object', { details: { option: 'options' } });
    }
    const realm = options.realm ?? DEFAULT_REALM;
    if (typeof realm !== 'string' || realm === '') {
      throw new InvalidOptionsError('realm must be a non-empty string', { details: { option: 'realm' } });
    }
    if (options.forwardCredentials !== undefined && typeof options.forwardCredentials !== 'boolean') {
      throw new InvalidOptionsError('forwardCredentials must be a boolean', {
        details: { option: 'forwardCredentials' },
      });
    }
    this.realm = realm;
    this.#writer = new IdentityHeaderWriter(options.forwardClaims);
    this.#jwt =
      options.jwt === undefined || options.jwt instanceof JwtVerifier
        ? options.jwt
        : new JwtVerifier({ realm, ...options.jwt });
    this.#apiKeys =
      options.apiKeys === undefined || options.apiKeys instanceof ApiKeyStore
        ? options.apiKeys
        : new ApiKeyStore(options.apiKeys);
    this.#consumed = new Set(['authorization', ...(this.#apiKeys ? [this.#apiKeys.header] : [])]);
    this.#forwardCredentials = options.forwardCredentials ?? false;
  }

  /**
   * Apply the system's access rules (the evaluator the SDK runs on every hop) to every
   * route that is not `off`: resource `route:<id>`, for the caller's account. Set once
   * the infrastructure is known (auth on).
   */
  useRules(rules: RuleSource | undefined): void {
    this.#rules = rules;
  }

  /**
   * With auth on, HTTP upstreams get what RPC hops get: the gateway's own token
   * (`x-switchyard-token`) and, for a caller holding a token of the Switchyard auth
   * service, that token (`x-switchyard-user-token`), so a service can verify who the
   * request is for instead of trusting `x-switchyard-subject`.
   */
  useServiceIdentity(identity: { issuer: string; gateway: TokenProvider } | undefined): void {
    this.#identity = identity;
  }

  /** The JWT verifier, if configured (for its stats). */
  get verifier(): JwtVerifier | undefined {
    return this.#jwt;
  }

  /** Import keys / fetch the JWKS. Idempotent. */
  start(): Promise<void> {
    this.#started ??= (this.#jwt?.start() ?? Promise.resolve()).catch((err: unknown) => {
      this.#started = undefined;
      throw err;
    });
    return this.#started;
  }

  /** Close the verifier and its key source. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#jwt?.close();
  }

  /** How callers can authenticate here (for the API description). */
  get credentials(): { bearer: boolean; apiKeyHeader: string | undefined } {
    return { bearer: this.#jwt !== undefined, apiKeyHeader: this.#apiKeys?.header };
  }

  /**
   * Compile a route's auth config (once, at route load). Refuses `required` when no
   * credential source is configured: such a route could never be reached.
   */
  compileRoute(config?: RouteAuthConfig, option = 'auth', routeId?: string): RouteAuth {
    const route = compileRouteAuth(config, option, routeId);
    if (route.mode === 'required' && this.#jwt === undefined && this.#apiKeys === undefined) {
      throw new InvalidOptionsError(`${option}.mode is "required" but neither jwt nor apiKeys is configured`, {
        details: { option: `${option}.mode` },
      });
    }
    return route;
  }

  /**
   * Authenticate and authorize one request against a compiled route policy; on success
   * the request's headers are ready for the upstream and the caller's identity is returned.
   * `path` is the normalised path the router matched (default `req.url`): rules must judge
   * the same path the upstream will receive.
   * Throws UnauthenticatedError (401), PermissionDeniedError (403), InvalidArgumentError
   * (400, two credentials) — each with `details.wwwAuthenticate` — or UnavailableError
   * (503) when the JWKS cannot be fetched.
   */
  async authorize(req: AuthRequest, route: RouteAuth, path?: string): Promise<Identity> {
    stripIdentityHeaders(req);
    if (route.mode === 'off') return ANONYMOUS;

    const identity = await this.#authenticate(req, route);
    if (identity !== ANONYMOUS && !this.#forwardCredentials) removeHeaders(req, this.#consumed);

    const lacking = missingScopes(identity.scopes, route.scopes);
    if (lacking.length > 0) {
      throw this.#denied('insufficient_scope', `missing scope: ${lacking.join(' ')}`, identity, route.scopes);
    }
    if (route.rules !== undefined) {
      const method = (req.method ?? 'GET').toUpperCase();
      const decision = route.rules.evaluate(pathSegments(path ?? req.url), method, identity.scopes);
      if (decision.effect === 'deny') {
        const why = decision.rule === undefined ? 'no access rule allows this request' : 'denied by an access rule';
        throw this.#denied('denied_by_rule', why, identity, decision.wouldAllowWith);
      }
    }
    if (this.#rules !== undefined && route.routeId !== undefined) {
      const decision = this.#rules.current().verify(accountOf(identity), 'route', route.routeId);
      if (decision.access === 'denied') {
        const why =
          decision.rule === undefined ? 'no access rule grants this route' : `denied by access rule "${decision.rule}"`;
        throw this.#denied('denied_by_rule', why, identity, []);
      }
    }
    this.#writer.apply(req, identity);
    const si = this.#identity;
    if (si !== undefined) {
      const own = si.gateway.token();
      req.headers[AUTH_HEADER.serviceToken] = own;
      req.rawHeaders?.push(AUTH_HEADER.serviceToken, own);
      if (identity.token !== undefined && identity.claims.iss === si.issuer) {
        req.headers[AUTH_HEADER.userToken] = identity.token;
        req.rawHeaders?.push(AUTH_HEADER.userToken, identity.token);
      }
    }
    return identity;
  }

  async #authenticate(req: AuthRequest, route: RouteAuth): Promise<Identity> {
    const realm = this.realm;
    const credential = readCredential(req.headers, this.#apiKeys?.header);
    switch (credential.kind) {
      case 'none':
        if (route.mode === 'optional') return ANONYMOUS;
        throw missingCredentials('missing_credentials', 'authentication required', realm, route.scopes);
      case 'unsupported':
        throw missingCredentials('unsupported_scheme', 'the Authorization scheme must be Bearer', realm, route.scopes);
      case 'malformed-bearer':
        throw invalidToken('malformed_token', 'token is malformed', realm);
      case 'multiple':
        throw invalidRequest('multiple_credentials', 'send either a bearer token or an API key, not both', realm);
      case 'api-key': {
        const identity = this.#apiKeys!.lookup(credential.key);
        if (identity === undefined) throw invalidToken('invalid_api_key', 'API key is not valid', realm);
        return identity;
      }
      case 'bearer':
        if (this.#jwt === undefined) throw invalidToken('bearer_not_accepted', 'bearer tokens are not accepted', realm);
        return this.#jwt.verify(credential.token);
    }
  }

  // An anonymous caller who is refused could succeed by authenticating: 401, not 403.
  #denied(
    reason: 'insufficient_scope' | 'denied_by_rule',
    description: string,
    identity: Identity,
    scopes: readonly string[],
  ) {
    if (identity === ANONYMOUS)
      return missingCredentials('missing_credentials', 'authentication required', this.realm, scopes);
    return insufficientScope(reason, description, this.realm, scopes);
  }
}
