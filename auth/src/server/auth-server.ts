import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { UnauthenticatedError } from '@switchyard/broker';
import { type Account, TokenVerifier } from '@switchyard/sdk';
import { pino } from 'pino';
import { Accounts, type AccountView, type CreateAccountInput } from '../accounts/accounts.js';
import { KeyRing } from '../keys/key-ring.js';
import { OAuthError } from '../oauth/oauth-error.js';
import { parseTokenRequest, TokenEndpoint } from '../oauth/token-endpoint.js';
import { accountFromRecord, TokenIssuer } from '../tokens/token-issuer.js';
import { type AuthServerOptions, type ResolvedAuthServerOptions, resolveAuthServerOptions } from './auth-options.js';
import { NO_STORE, readBody, sendJson, sendOAuthError } from './http-io.js';

const REALM = 'switchyard';
/** Expired refresh records are swept this often. */
const SWEEP_INTERVAL_MS = 3_600_000;

/**
 * The `switchyard auth` service: accounts, the OAuth 2.0 token endpoint (client
 * credentials and refresh grants), revocation (RFC 7009), the JWKS and discovery
 * documents (RFC 8414 / OIDC), with signing keys rotated on schedule or on command.
 * Embedded in `npm start` or run alone (`switchyard auth serve`).
 */
export class AuthServer {
  readonly #o: ResolvedAuthServerOptions;
  readonly #logger;
  readonly #server: Server;
  readonly #accounts: Accounts;
  #keys: KeyRing | undefined;
  #tokens: TokenIssuer | undefined;
  #endpoint: TokenEndpoint | undefined;
  #issuer: string | undefined;
  #inspector: TokenVerifier | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: AuthServerOptions) {
    this.#o = resolveAuthServerOptions(options);
    this.#logger = (this.#o.logger ?? pino({ level: 'info' })).child({ component: 'auth' });
    this.#accounts = new Accounts(this.#o.store, this.#o.hashParams);
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((err) => {
        this.#logger.error({ err }, 'auth: request failed');
        sendJson(res, 500, { error: 'server_error', error_description: 'internal error' }, { ...NO_STORE });
      });
    };
    const tls = this.#o.tls;
    this.#server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createServer(handler);
    // No request may hang the service: a slow client is cut off.
    this.#server.requestTimeout = 10_000;
    this.#server.headersTimeout = 5_000;
  }

  /** Listen, load (or create) the signing keys. Idempotent. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const o = this.#o;
    await o.store.start();
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(o.port, o.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const addr = this.#server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.#issuer = o.issuer ?? `${o.tls ? 'https' : 'http'}://${host}:${addr.port}`;
    this.#keys = new KeyRing({
      store: o.store,
      masterKey: o.masterKey,
      algorithm: o.algorithm,
      rotationIntervalSec: o.keyRotationIntervalSec,
      accessTokenTtlSec: o.accessTokenTtlSec,
      clockToleranceSec: o.clockToleranceSec,
      logger: this.#logger,
    });
    await this.#keys.start();
    this.#tokens = new TokenIssuer(o.store, this.#keys, {
      issuer: this.#issuer,
      audience: o.audience,
      accessTokenTtlSec: o.accessTokenTtlSec,
      refreshTokenTtlSec: o.refreshTokenTtlSec,
    });
    this.#endpoint = new TokenEndpoint(this.#accounts, this.#tokens, this.#logger);
    this.#sweep = setInterval(() => {
      o.store
        .sweepRefresh(Date.now())
        .catch((err) => this.#logger.warn({ err }, 'auth: sweeping refresh tokens failed'));
    }, SWEEP_INTERVAL_MS);
    this.#sweep.unref();
    this.#logger.info({ issuer: this.#issuer, alg: o.algorithm }, 'auth: listening');
  }

  /** Stop listening (requests in flight finish), stop rotating, close the store. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweep);
      this.#keys?.close();
      if (this.#server.listening) {
        await new Promise<void>((resolve) => {
          this.#server.close(() => resolve());
          this.#server.closeIdleConnections();
        });
      }
      await this.#o.store.close();
    })();
    return this.#closing;
  }

  /** `{ url }` of the listener (the issuer), once started. */
  address(): { url: string } | undefined {
    return this.#issuer === undefined ? undefined : { url: this.#issuer };
  }

  get issuer(): string | undefined {
    return this.#issuer;
  }

  createAccount(input: CreateAccountInput): Promise<{ account: AccountView; secret: string }> {
    return this.#accounts.create(input);
  }

  listAccounts(): Promise<AccountView[]> {
    return this.#accounts.list();
  }

  revokeAccount(id: string): Promise<AccountView> {
    return this.#accounts.revoke(id);
  }

  /** Sign with a new key now; returns its kid. */
  rotateKeys(): Promise<string> {
    return this.#ready().keys.rotate();
  }

  /** An access token for an account without its secret (embedding and tests), e.g. with a short `ttlSec`. */
  async issueToken(accountId: string, options: { ttlSec?: number; scope?: string } = {}): Promise<string> {
    const { tokens } = this.#ready();
    const account = await this.#accounts.get(accountId);
    if (!account || account.revokedAt !== undefined) {
      throw new UnauthenticatedError(`no active account "${accountId}"`, { details: { reason: 'unknown_account' } });
    }
    return tokens.accessToken(account, tokens.grantScope(account, options.scope), options.ttlSec);
  }

  /** Go Micro's Inspect: the account a token speaks for (verified like any receiver would). */
  async inspect(token: string): Promise<Account> {
    this.#inspector ??= new TokenVerifier({ issuer: this.#issuer!, audience: this.#o.audience });
    const account = await this.#inspector.verify(token);
    const record = await this.#accounts.get(account.id);
    if (!record)
      throw new UnauthenticatedError(`account "${account.id}" does not exist`, {
        details: { reason: 'unknown_account' },
      });
    return accountFromRecord(record, this.#issuer!);
  }

  #ready() {
    if (!this.#keys || !this.#tokens || !this.#endpoint) throw new UnauthenticatedError('auth server is not started');
    return { keys: this.#keys, tokens: this.#tokens, endpoint: this.#endpoint };
  }

  #discovery(): Record<string, unknown> {
    const iss = this.#issuer!;
    return {
      issuer: iss,
      token_endpoint: `${iss}/oauth/token`,
      jwks_uri: `${iss}/.well-known/jwks.json`,
      revocation_endpoint: `${iss}/oauth/revoke`,
      grant_types_supported: ['client_credentials', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: ['token'],
      id_token_signing_alg_values_supported: [this.#o.algorithm],
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (path === '/oauth/token' || path === '/oauth/revoke') {
      if (method !== 'POST') {
        sendJson(res, 405, { error: 'invalid_request', error_description: 'use POST' }, { allow: 'POST', ...NO_STORE });
        return;
      }
      try {
        const { endpoint } = this.#ready();
        const params = parseTokenRequest(req.headers['content-type'], await readBody(req, this.#o.maxBodyBytes));
        if (path === '/oauth/token')
          sendJson(res, 200, await endpoint.token(req.headers.authorization, params), { ...NO_STORE });
        else {
          await endpoint.revoke(req.headers.authorization, params);
          sendJson(res, 200, {}, { ...NO_STORE });
        }
      } catch (err) {
        if (err instanceof OAuthError) sendOAuthError(res, err, REALM);
        else {
          const unavailable = (err as { code?: string }).code === 'UNAVAILABLE';
          if (!unavailable) this.#logger.error({ err }, 'auth: token request failed');
          const e = unavailable
            ? new OAuthError('temporarily_unavailable', 'the auth store is unavailable; retry later')
            : new OAuthError('server_error', 'internal error');
          sendOAuthError(res, e, REALM);
        }
      }
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendJson(res, 405, { error: 'invalid_request', error_description: 'use GET' }, { allow: 'GET, HEAD' });
      return;
    }
    switch (path) {
      case '/.well-known/jwks.json':
        // Short: a rotation reaches verifiers that cache by HTTP headers within a minute.
        sendJson(res, 200, this.#ready().keys.jwks(), { 'cache-control': 'public, max-age=60' });
        return;
      case '/.well-known/openid-configuration':
      case '/.well-known/oauth-authorization-server':
        sendJson(res, 200, this.#discovery(), { 'cache-control': 'public, max-age=300' });
        return;
      case '/healthz':
        sendJson(res, 200, { status: 'ok' });
        return;
      default:
        sendJson(res, 404, { error: 'not_found', error_description: `no endpoint ${path}` });
    }
  }
}

export function createAuthServer(options: AuthServerOptions): AuthServer {
  return new AuthServer(options);
}
