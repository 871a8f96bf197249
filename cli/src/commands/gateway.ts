import { SwitchyardError } from '@switchyard/broker';
import { createGateway, GATEWAY_ENV, type GatewayOptions } from '@switchyard/gateway';
import { SWITCHYARD_ENV } from '@switchyard/sdk';
import type { Command } from 'commander';
import { pino } from 'pino';
import type { CommandContext } from '../context.js';
import { parsePositiveInt } from '../input/durations.js';
import { UnreachableError, UsageError } from '../output/cli-errors.js';
import type { CliIo } from '../output/io.js';
import { action, examples } from './command-kit.js';

interface GatewayOpts {
  port?: string;
  host?: string;
  adminPort?: string;
  routes?: string;
  workers?: string;
  logLevel?: string;
}

export function registerGatewayCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('gateway')
      .summary('run the gateway')
      .description(
        'run the gateway until SIGTERM/SIGINT (then it drains requests in flight); settings from flags and the environment (docs/gateway.md)',
      )
      .option('--port <port>', `public port (env ${GATEWAY_ENV.port}; default 8080; 0 picks a free one)`)
      .option('--host <host>', `public interface (env ${GATEWAY_ENV.host}; default 0.0.0.0)`)
      .option(
        '--admin-port <port|off>',
        `admin port for /metrics, /healthz, /readyz (env ${GATEWAY_ENV.adminPort}; default 9090)`,
      )
      .option('--routes <file>', `routes file used without etcd (env ${GATEWAY_ENV.routesFile}; default routes.yaml)`)
      .option('--workers <n>', `gateway processes (env ${GATEWAY_ENV.workers}; default 1; needs etcd + RabbitMQ)`)
      .option('--log-level <level>', `pino level (env ${GATEWAY_ENV.logLevel}; default info)`)
      .action(action<GatewayOpts>(io, runGateway)),
    [
      'switchyard gateway --routes examples/routes.yaml          # embedded: no etcd, no RabbitMQ',
      'switchyard --etcd http://127.0.0.1:2379 --amqp amqp://guest:guest@127.0.0.1:5672 gateway --port 8080',
      'SWITCHYARD_DEV_JWT_SECRET=... switchyard gateway --admin-port off',
    ],
  );
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parsePort(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65_535) {
    throw new UsageError(
      `${flag} must be a port from 0 to 65535${flag === '--admin-port' ? ' or off' : ''}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

async function runGateway(ctx: CommandContext, _args: string[], opts: GatewayOpts): Promise<void> {
  const s = ctx.settings;
  // The gateway reads its settings from an environment: the CLI's flags become variables
  // there, so the gateway's own checks name them and cluster workers inherit them.
  const env: Record<string, string | undefined> = { ...ctx.io.env };
  if (s.etcdEndpoints.length > 0) env[SWITCHYARD_ENV.etcd] = s.etcdEndpoints.join(',');
  if (s.amqpUrl !== undefined) env[SWITCHYARD_ENV.amqp] = s.amqpUrl;
  env[SWITCHYARD_ENV.namespace] = s.namespace;
  if (opts.workers !== undefined) env[GATEWAY_ENV.workers] = String(parsePositiveInt(opts.workers, '--workers', 64));
  if (opts.logLevel !== undefined) {
    if (!LOG_LEVELS.includes(opts.logLevel)) {
      throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(opts.logLevel)}`);
    }
    env[GATEWAY_ENV.logLevel] = opts.logLevel;
  }
  const options: GatewayOptions = { env };
  if (opts.port !== undefined) options.port = parsePort(opts.port, '--port');
  if (opts.host !== undefined) options.host = opts.host;
  if (opts.adminPort !== undefined) {
    options.adminPort = opts.adminPort === 'off' ? false : parsePort(opts.adminPort, '--admin-port');
  }
  if (opts.routes !== undefined) options.routesFile = opts.routes;
  const level = env[GATEWAY_ENV.logLevel]?.trim() || 'info';
  if ((env[GATEWAY_ENV.workers] ?? '1') === '1' && LOG_LEVELS.includes(level)) {
    // The logs are the gateway's output: they go where the command's stdout goes. (Cluster
    // workers log to their own stdout, which is this process's.)
    options.logger = pino({ level }, { write: (line: string) => ctx.io.stdout.write(line) });
  }
  const gateway = createGateway(options);
  ctx.defer(() => gateway.close());
  try {
    await ctx.step('starting the gateway', () => gateway.start());
  } catch (err) {
    if (err instanceof SwitchyardError && err.code === 'UNAVAILABLE') {
      throw new UnreachableError(`the gateway cannot start: ${err.message}`, { cause: err });
    }
    throw err;
  }
  const addr = gateway.address();
  const admin = gateway.adminAddress();
  ctx.note(
    `switchyard gateway: listening on ${addr?.url ?? '(cluster workers)'}${admin ? `, admin ${admin.url}` : ''}; Ctrl-C or SIGTERM to stop`,
  );
  const signal = ctx.io.signal;
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  ctx.note('switchyard gateway: stopping (draining requests in flight)');
}
