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

async function runGateway(ctx: CommandContext, _args: string[], opts: GatewayOpts): Promise<void> {
  const s = ctx.settings;
  // The gateway reads its settings from an environment: the CLI's flags become variables
  // there, so the gateway's own checks name them and cluster workers inherit them.
  const env: Record<string, string | undefined> = { ...ctx.io.env };
  if (s.etcdEndpoints.length > 0) env[SWITCHYARD_ENV.etcd] = s.etcdEndpoints.join(',');
  if (s.amqpUrl !== undefined) env[SWITCHYARD_ENV.amqp] = s.amqpUrl;
  env[SWITCHYARD_ENV.namespace] = s.namespace;
  if (opts.port !== undefined) env[GATEWAY_ENV.port] = opts.port;
  if (opts.host !== undefined) env[GATEWAY_ENV.host] = opts.host;
  if (opts.adminPort !== undefined) env[GATEWAY_ENV.adminPort] = opts.adminPort;
  if (opts.workers !== undefined) env[GATEWAY_ENV.workers] = String(parsePositiveInt(opts.workers, '--workers', 64));
  if (opts.logLevel !== undefined) env[GATEWAY_ENV.logLevel] = opts.logLevel;
  const options: GatewayOptions = { env };
  if (opts.routes !== undefined) options.routesFile = opts.routes;
  if (env[GATEWAY_ENV.workers] === undefined || env[GATEWAY_ENV.workers] === '1') {
    // The logs are the gateway's output: they go where the command's stdout goes.
    const level = env[GATEWAY_ENV.logLevel]?.trim() || 'info';
    try {
      options.logger = pino({ level }, { write: (line: string) => ctx.io.stdout.write(line) });
    } catch (err) {
      throw new UsageError(`--log-level: ${(err as Error).message}`);
    }
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
