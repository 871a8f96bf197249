import {
  Accounts,
  addSigningKey,
  DEFAULT_HASH_PARAMS,
  EtcdAuthStore,
  MASTER_KEY_ENV,
  parseMasterKey,
  runAuthService,
} from '@switchyard/auth';
import { AUTH_ENV, SWITCHYARD_ENV } from '@switchyard/sdk';
import type { Command } from 'commander';
import { pino } from 'pino';
import type { CommandContext } from '../context.js';
import { collect } from '../input/durations.js';
import { readStdin } from '../input/read-input.js';
import { UsageError } from '../output/cli-errors.js';
import type { CliIo } from '../output/io.js';
import { renderTable } from '../output/table.js';
import { registerAuthRulesCommands } from './auth-rules.js';
import { action, examples } from './command-kit.js';

/** `switchyard auth ...`: run the auth service, manage accounts, keys and rules, get a token. */
export function registerAuthCommand(program: Command, io: CliIo): Command {
  const auth = program
    .command('auth')
    .summary('the auth service: accounts, tokens, signing keys, access rules')
    .description('run the auth service and manage its accounts, signing keys and access rules in etcd (docs/auth.md)');
  examples(auth, [
    'switchyard auth serve',
    'switchyard auth accounts create payments --scope payments:refund',
    'switchyard auth rules apply -f rules.yaml --dry-run',
  ]);

  examples(
    auth
      .command('serve')
      .description(
        'run the auth service until SIGTERM/SIGINT (etcd store with --etcd/SWITCHYARD_ETCD, else memory); env SWITCHYARD_AUTH_PORT, _HOST, _ISSUER, _MASTER_KEY',
      )
      .action(action(io, serve)),
    [`${MASTER_KEY_ENV}=$(head -c32 /dev/urandom | base64) switchyard --etcd http://127.0.0.1:2379 auth serve`],
  );

  const accounts = auth
    .command('accounts')
    .description('user and service accounts in etcd (/<namespace>/auth/accounts/<id>)');
  examples(accounts, [
    'switchyard auth accounts create orders --scope payments:charge',
    'switchyard auth accounts list',
  ]);
  examples(
    accounts
      .command('create')
      .description('create an account; prints its secret once (stored only as a scrypt hash)')
      .argument('<id>', 'account id, e.g. payments (lower case, digits, . _ -)')
      .option('--type <type>', 'user or service', 'service')
      .option('--scope <scope>', 'a scope to grant (repeatable)', collect)
      .option('--metadata <key=value>', 'a metadata entry (repeatable)', collect)
      .option('--secret-stdin', 'read the secret from stdin instead of generating one')
      .action(
        action<{ type: string; scope?: string[]; metadata?: string[]; secretStdin?: boolean }>(io, createAccount),
      ),
    [
      'switchyard auth accounts create payments --scope payments:refund',
      'switchyard auth accounts create alice --type user --scope orders:read --json',
    ],
  );
  examples(
    accounts.command('list').description('list accounts (never their secrets)').action(action(io, listAccounts)),
    ['switchyard auth accounts list'],
  );
  examples(
    accounts
      .command('revoke')
      .description('revoke an account: it gets no new token from now on (issued ones die at their expiry)')
      .argument('<id>', 'account id')
      .action(action(io, revokeAccount)),
    ['switchyard auth accounts revoke legacy-batch'],
  );

  examples(
    auth
      .command('token')
      .description('get an access token with client credentials (RFC 6749 §4.4) from a running auth service')
      .option('--url <url>', `auth service URL (env ${AUTH_ENV.url})`)
      .option('--client-id <id>', `account id (env ${AUTH_ENV.clientId})`)
      .option('--client-secret-stdin', `read the secret from stdin (else env ${AUTH_ENV.clientSecret})`)
      .option('--scope <scope>', 'ask for only these scopes (repeatable)', collect)
      .action(action<{ url?: string; clientId?: string; clientSecretStdin?: boolean; scope?: string[] }>(io, getToken)),
    [
      'echo "$SECRET" | switchyard auth token --url http://127.0.0.1:4455 --client-id payments --client-secret-stdin --json',
    ],
  );

  const keys = auth
    .command('keys')
    .description('signing keys (private keys encrypted with SWITCHYARD_AUTH_MASTER_KEY)');
  examples(keys, ['switchyard auth keys rotate']);
  examples(
    keys
      .command('rotate')
      .description(
        'add a new signing key now; running auth services switch to it, the old one stays published until its tokens expire',
      )
      .option('--alg <alg>', 'EdDSA, ES256 or RS256', 'EdDSA')
      .action(action<{ alg: string }>(io, rotateKeys)),
    [`${MASTER_KEY_ENV}=... switchyard auth keys rotate`],
  );
  registerAuthRulesCommands(auth, io);
  return auth;
}

function store(ctx: CommandContext): EtcdAuthStore {
  if (ctx.settings.etcdEndpoints.length === 0) {
    throw new UsageError('no etcd configured: pass --etcd http://host:2379 or set SWITCHYARD_ETCD');
  }
  return new EtcdAuthStore({ client: ctx.etcd(), namespace: ctx.settings.namespace });
}

async function serve(ctx: CommandContext): Promise<void> {
  const env: Record<string, string | undefined> = { ...ctx.io.env, [SWITCHYARD_ENV.namespace]: ctx.settings.namespace };
  if (ctx.settings.etcdEndpoints.length > 0) env[SWITCHYARD_ENV.etcd] = ctx.settings.etcdEndpoints.join(',');
  const logger = pino(
    { level: ctx.io.env.SWITCHYARD_LOG_LEVEL ?? 'info' },
    { write: (l: string) => ctx.io.stdout.write(l) },
  );
  const server = await ctx.reachEtcd('starting the auth service', () =>
    runAuthService(env, { logger, handleSignals: false }),
  );
  ctx.defer(() => server.close());
  ctx.note(`switchyard auth: listening on ${server.address()!.url}; Ctrl-C or SIGTERM to stop`);
  const signal = ctx.io.signal;
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

async function createAccount(
  ctx: CommandContext,
  [id]: string[],
  opts: { type: string; scope?: string[]; metadata?: string[]; secretStdin?: boolean },
): Promise<void> {
  if (opts.type !== 'user' && opts.type !== 'service')
    throw new UsageError(`--type must be user or service, got ${JSON.stringify(opts.type)}`);
  const metadata: Record<string, string> = {};
  for (const pair of opts.metadata ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--metadata expects key=value, got ${JSON.stringify(pair)}`);
    metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const secret = opts.secretStdin ? (await readStdin(ctx.io)).trim() : undefined;
  const accounts = new Accounts(store(ctx), DEFAULT_HASH_PARAMS);
  const { account, secret: issued } = await ctx.reachEtcd('creating the account', () =>
    accounts.create({
      id: id!,
      type: opts.type as 'user' | 'service',
      scopes: opts.scope ?? [],
      metadata,
      ...(secret ? { secret } : {}),
    }),
  );
  if (ctx.json) {
    ctx.outJson({ account, ...(secret ? {} : { secret: issued }) });
    return;
  }
  ctx.out(`created ${account.type} account ${account.id} (scopes: ${account.scopes.join(' ') || 'none'})`);
  if (!secret) {
    ctx.out(`secret: ${issued}`);
    ctx.note('store the secret now: it is not shown again (only its hash is kept)');
  }
}

async function listAccounts(ctx: CommandContext): Promise<void> {
  const accounts = new Accounts(store(ctx), DEFAULT_HASH_PARAMS);
  const list = await ctx.reachEtcd('reading accounts', () => accounts.list());
  if (ctx.json) {
    ctx.outJson(list);
    return;
  }
  if (list.length === 0) {
    ctx.note(`no accounts in /${ctx.settings.namespace}/auth/accounts/`);
    return;
  }
  ctx.out(
    renderTable(list, [
      { header: 'ID', value: (a) => a.id },
      { header: 'TYPE', value: (a) => a.type },
      { header: 'SCOPES', value: (a) => a.scopes.join(' ') },
      { header: 'CREATED', value: (a) => a.createdAt },
      { header: 'STATUS', value: (a) => (a.revokedAt ? `revoked ${a.revokedAt}` : 'active') },
    ]),
  );
}

async function revokeAccount(ctx: CommandContext, [id]: string[]): Promise<void> {
  const accounts = new Accounts(store(ctx), DEFAULT_HASH_PARAMS);
  const account = await ctx.reachEtcd('revoking the account', () => accounts.revoke(id!));
  if (ctx.json) ctx.outJson(account);
  else ctx.out(`revoked ${account.id}: no new tokens; tokens already issued expire within their lifetime`);
}

async function getToken(
  ctx: CommandContext,
  _args: string[],
  opts: { url?: string; clientId?: string; clientSecretStdin?: boolean; scope?: string[] },
): Promise<void> {
  const url = opts.url ?? ctx.io.env[AUTH_ENV.url];
  const clientId = opts.clientId ?? ctx.io.env[AUTH_ENV.clientId];
  const secret = opts.clientSecretStdin ? (await readStdin(ctx.io)).trim() : ctx.io.env[AUTH_ENV.clientSecret];
  if (!url) throw new UsageError(`no auth service: pass --url or set ${AUTH_ENV.url}`);
  if (!clientId || !secret)
    throw new UsageError(`--client-id and a secret (--client-secret-stdin or ${AUTH_ENV.clientSecret}) are required`);
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (opts.scope) body.set('scope', opts.scope.join(' '));
  const res = await ctx.step('asking the auth service for a token', () =>
    fetch(`${url.replace(/\/$/, '')}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body,
      signal: AbortSignal.timeout(10_000),
    }).catch((err: Error) => {
      // fetch says only "fetch failed"; the cause says why (refused, a certificate not trusted, ...).
      const cause = err.cause as { code?: string; message?: string } | undefined;
      const why = cause ? `${cause.code ? `${cause.code}: ` : ''}${cause.message ?? ''}` : err.message;
      throw new UsageError(`the auth service at ${url} cannot be reached (${why})`);
    }),
  );
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    throw new UsageError(
      `the auth service refused: ${json.error ?? res.status} ${json.error_description ?? ''}`.trim(),
    );
  }
  if (ctx.json) ctx.outJson(json);
  else ctx.out(String(json.access_token));
}

async function rotateKeys(ctx: CommandContext, _args: string[], opts: { alg: string }): Promise<void> {
  if (!['EdDSA', 'ES256', 'RS256'].includes(opts.alg)) throw new UsageError(`--alg must be EdDSA, ES256 or RS256`);
  const raw = ctx.io.env[MASTER_KEY_ENV];
  if (!raw) throw new UsageError(`${MASTER_KEY_ENV} must be set: the new private key is stored encrypted with it`);
  const masterKey = parseMasterKey(raw);
  const kid = await ctx.reachEtcd('adding a signing key', () =>
    addSigningKey(store(ctx), masterKey, opts.alg as 'EdDSA' | 'ES256' | 'RS256'),
  );
  if (ctx.json) ctx.outJson({ kid, alg: opts.alg });
  else
    ctx.out(
      `new signing key ${kid} (${opts.alg}); running auth services sign with it from their next reload (a watch round-trip)`,
    );
}
