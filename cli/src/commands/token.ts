import { DEV_JWT_SECRET_ENV, signDevToken } from '@switchyard/gateway';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { collect } from '../input/durations.js';
import { UsageError } from '../output/cli-errors.js';
import type { CliIo } from '../output/io.js';
import { action, examples } from './command-kit.js';

interface TokenOpts {
  sub: string;
  scope?: string[];
  ttl: string;
  claim?: string[];
}

export function registerTokenCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('token')
      .summary('sign a development JWT')
      .description(
        `DEVELOPMENT ONLY: sign a JWT the dev gateway accepts (HS256 with ${DEV_JWT_SECRET_ENV}, iss switchyard-dev, aud switchyard)`,
      )
      .requiredOption('--sub <id>', 'subject (the caller identity)')
      .option('--scope <scope>', 'a scope to grant (repeatable)', collect)
      .option('--ttl <span>', 'lifetime: seconds, or a span such as 15m, 1h, 7d', '1h')
      .option('--claim <name=json>', 'an extra claim; the value is JSON, or a plain string (repeatable)', collect)
      .action(action<TokenOpts>(io, signToken)),
    [
      `export ${DEV_JWT_SECRET_ENV}=$(openssl rand -hex 32)   # the gateway needs the same value`,
      'switchyard token --sub alice --scope orders:read --scope orders:write',
      'curl -H "Authorization: Bearer $(switchyard token --sub alice --scope orders:read)" localhost:8080/api/orders/1',
      'switchyard token --sub ci --ttl 15m --json',
    ],
  );
}

async function signToken(ctx: CommandContext, _args: string[], opts: TokenOpts): Promise<void> {
  const secret = ctx.io.env[DEV_JWT_SECRET_ENV];
  if (secret === undefined || secret === '') {
    // signDevToken would fall back to a secret of this process only: a token nobody else accepts.
    throw new UsageError(
      `${DEV_JWT_SECRET_ENV} is not set: set it (at least 32 characters) here and in the gateway's environment so the gateway accepts the token`,
    );
  }
  const ttl: number | string = /^\d+$/.test(opts.ttl) ? Number(opts.ttl) : opts.ttl;
  const claims: Record<string, unknown> = {};
  for (const c of opts.claim ?? []) {
    const eq = c.indexOf('=');
    if (eq <= 0) throw new UsageError(`--claim takes name=value, got ${JSON.stringify(c)}`);
    const raw = c.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // A plain string.
    }
    claims[c.slice(0, eq)] = value;
  }
  const scopes = opts.scope ?? [];
  const token = await signDevToken({ sub: opts.sub, scopes, ttl, claims, env: { ...ctx.io.env } });
  if (!ctx.json) {
    ctx.out(token);
    return;
  }
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
  ctx.outJson({ token, sub: opts.sub, scopes, expiresAt: new Date(payload.exp * 1000).toISOString() });
}
