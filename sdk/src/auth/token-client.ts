import { InvalidOptionsError, type SwitchyardError, UnauthenticatedError, UnavailableError } from '@switchyard/broker';
import type { Logger } from '../config/logger.js';

/** A service account's credentials (RFC 6749 §2.3.1 client id and secret). */
export interface ServiceCredentials {
  clientId: string;
  clientSecret: string;
  /** Ask for a subset of the account's scopes (space-separated). Default: all of them. */
  scope?: string;
}

export interface TokenClientOptions {
  /** The token endpoint, e.g. `http://auth:4455/oauth/token`. Required. */
  tokenUrl: string;
  credentials: ServiceCredentials;
  logger?: Logger;
  /** Renew when this fraction of the token's life is left. Default 0.25. */
  renewAtFraction?: number;
  /** Timeout of one token request, ms. Default 5000. */
  requestTimeoutMs?: number;
}

interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
}

/** Fewest seconds between two renewals, whatever the token's lifetime. */
const MIN_RENEW_DELAY_MS = 1_000;
const MAX_RETRY_DELAY_MS = 10_000;

/**
 * A service's own access token: obtained with its credentials at start (client
 * credentials grant), renewed in the background before it expires (with the refresh
 * token when one was issued, else the credentials again), so `token()` is a field read
 * on the hot path. A failed renewal is retried with backoff while the current token is
 * still valid; callers only see an error if it expires first.
 */
export class TokenClient {
  readonly #o: Required<Omit<TokenClientOptions, 'logger'>> & { logger: Logger | undefined };
  #token: string | undefined;
  #expiresAt = 0;
  #refresh: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #starting: Promise<void> | undefined;

  constructor(options: TokenClientOptions) {
    const bad = (option: string, problem: string) =>
      new InvalidOptionsError(`service auth option "${option}" ${problem}`, { details: { option } });
    try {
      new URL(options?.tokenUrl);
    } catch {
      throw bad('tokenUrl', 'must be a URL');
    }
    const c = options.credentials;
    if (typeof c?.clientId !== 'string' || c.clientId === '')
      throw bad('credentials.clientId', 'must be a non-empty string');
    if (typeof c.clientSecret !== 'string' || c.clientSecret === '') {
      throw bad('credentials.clientSecret', 'must be a non-empty string');
    }
    const renewAtFraction = options.renewAtFraction ?? 0.25;
    if (!(renewAtFraction > 0 && renewAtFraction < 1)) throw bad('renewAtFraction', 'must be between 0 and 1');
    this.#o = {
      tokenUrl: options.tokenUrl,
      credentials: { ...c },
      renewAtFraction,
      requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
      logger: options.logger,
    };
  }

  get clientId(): string {
    return this.#o.credentials.clientId;
  }

  /** Get the first token. Rejects UNAUTHENTICATED (bad credentials, revoked account) or UNAVAILABLE. */
  start(): Promise<void> {
    this.#starting ??= this.#obtain(false).then((t) => this.#accept(t));
    return this.#starting;
  }

  /** The current access token. Throws UNAUTHENTICATED when none is valid (never started, or renewal failed until expiry). */
  token(): string {
    if (this.#token === undefined || Date.now() >= this.#expiresAt) {
      throw new UnauthenticatedError(`service account "${this.clientId}" has no valid token (renewal failing?)`, {
        details: { reason: 'no_service_token' },
      });
    }
    return this.#token;
  }

  /** Renew now (e.g. after a key rotation test). */
  async renew(): Promise<void> {
    this.#accept(await this.#obtain(this.#refresh !== undefined));
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #accept(t: TokenResponse): void {
    this.#token = t.access_token;
    this.#expiresAt = Date.now() + t.expires_in * 1000;
    this.#refresh = t.refresh_token;
    this.#schedule(Math.max(MIN_RENEW_DELAY_MS, t.expires_in * 1000 * (1 - this.#o.renewAtFraction)));
  }

  #schedule(delayMs: number, attempt = 0): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#obtain(this.#refresh !== undefined && attempt === 0).then(
        (t) => this.#accept(t),
        (err: SwitchyardError) => {
          // A refresh token can be refused (rotated elsewhere, revoked): the next try uses the credentials.
          this.#refresh = undefined;
          const retryIn = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** attempt);
          this.#o.logger?.warn(
            { err: { code: err.code, message: err.message }, clientId: this.clientId, retryInMs: retryIn },
            'service token renewal failed; retrying',
          );
          this.#schedule(retryIn, attempt + 1);
        },
      );
    }, delayMs);
    this.#timer.unref();
  }

  async #obtain(useRefresh: boolean): Promise<TokenResponse> {
    const { credentials, tokenUrl, requestTimeoutMs } = this.#o;
    const body = new URLSearchParams();
    if (useRefresh && this.#refresh !== undefined) {
      body.set('grant_type', 'refresh_token');
      body.set('refresh_token', this.#refresh);
    } else {
      body.set('grant_type', 'client_credentials');
      if (credentials.scope !== undefined) body.set('scope', credentials.scope);
    }
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before they are base64-encoded.
    const basic = Buffer.from(
      `${encodeURIComponent(credentials.clientId)}:${encodeURIComponent(credentials.clientSecret)}`,
    ).toString('base64');
    let res: Response;
    try {
      res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (err) {
      // fetch says only "fetch failed"; its cause says why (refused, an untrusted certificate, a timeout).
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new UnavailableError(`the auth service at ${tokenUrl} cannot be reached (${why})`, {
        cause: err,
        details: { reason: 'token_endpoint_unreachable' },
      });
    }
    const json = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (res.ok && typeof json?.access_token === 'string' && typeof json.expires_in === 'number') {
      return json as unknown as TokenResponse;
    }
    const error = typeof json?.error === 'string' ? json.error : `http_${res.status}`;
    const description = typeof json?.error_description === 'string' ? `: ${json.error_description}` : '';
    const message = `the auth service refused a token for "${credentials.clientId}" (${error}${description})`;
    if (res.status >= 500) throw new UnavailableError(message, { details: { reason: error } });
    throw new UnauthenticatedError(message, { details: { reason: error } });
  }
}
