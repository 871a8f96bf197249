import type { IncomingMessage } from 'node:http';
import { insufficientScope, missingCredentials } from '../auth/auth-errors.js';
import type { AuthGuard } from '../auth/auth-guard.js';
import type { Identity } from '../auth/identity.js';
import type { RouteAuth } from '../auth/route-auth.js';
import type { ResolvedConsoleOptions } from './console-options.js';

/** Who is using the console: the token's subject, or nobody in particular in admin-port mode. */
export interface ConsoleUser {
  readonly subject: string | undefined;
  /** The credential headers the request came with, forwarded by try-it so the call is made as the operator. */
  readonly credentials: Readonly<Record<string, string>>;
}

/**
 * The console's gate, the same mechanism as `/openapi.json?view=all`: the AuthGuard
 * authenticates (bearer JWT or API key), then the operator scope is required — 401
 * without credentials, 403 without the scope, both with the guard's `WWW-Authenticate`.
 */
export class ConsoleAccess {
  readonly #guard: AuthGuard;
  readonly #o: ResolvedConsoleOptions;
  readonly #optional: RouteAuth;

  constructor(guard: AuthGuard, options: ResolvedConsoleOptions) {
    this.#guard = guard;
    this.#o = options;
    this.#optional = guard.compileRoute({ mode: 'optional' }, 'console');
  }

  async check(req: IncomingMessage): Promise<ConsoleUser> {
    // Read before the guard runs: it may strip the credential it consumed from the headers.
    const credentials = this.#credentials(req);
    if (this.#o.auth === 'admin-port') return { subject: undefined, credentials };
    const identity: Identity = await this.#guard.authorize(req, this.#optional, '/console');
    const scope = this.#o.operatorScope;
    if (identity.method === 'anonymous') {
      throw missingCredentials('missing_credentials', 'the console needs credentials', this.#guard.realm, [scope]);
    }
    if (!identity.scopes.includes(scope)) {
      throw insufficientScope('insufficient_scope', `the console needs the scope "${scope}"`, this.#guard.realm, [
        scope,
      ]);
    }
    return { subject: identity.subject, credentials };
  }

  #credentials(req: IncomingMessage): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of ['authorization', this.#guard.credentials.apiKeyHeader]) {
      const v = name === undefined ? undefined : req.headers[name.toLowerCase()];
      if (typeof v === 'string') out[name!.toLowerCase()] = v;
    }
    return out;
  }
}
