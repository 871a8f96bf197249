import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAuthCommand } from './commands/auth.js';
import { registerCallCommand } from './commands/call.js';
import { registerCertsCommand } from './commands/certs.js';
import { registerConfigCommand } from './commands/config.js';
import { registerGatewayCommand } from './commands/gateway.js';
import { registerNewCommand } from './commands/new.js';
import { registerPublishCommand } from './commands/publish.js';
import { registerRoutesCommand } from './commands/routes.js';
import { registerSchemasCommand } from './commands/schemas.js';
import { registerServicesCommand } from './commands/services.js';
import { registerSubscribeCommand } from './commands/subscribe.js';
import { registerTokenCommand } from './commands/token.js';
import type { CliIo } from './output/io.js';

/** package.json sits one level above both src/ and dist/. */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/** The `switchyard` program. Built afresh per run: commander keeps parse state on the instance. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('switchyard')
    .description(
      'Switchyard: run the gateway, manage routes, schemas and config, call services, publish and tail events.',
    )
    .version(VERSION, '-V, --version')
    .option('--etcd <urls>', 'etcd client URLs, comma-separated (env SWITCHYARD_ETCD)')
    .option('--amqp <url>', 'RabbitMQ URL, amqp:// or amqps:// (env SWITCHYARD_AMQP)')
    .option(
      '--namespace <ns>',
      'namespace of keys, exchanges and queues (env SWITCHYARD_NAMESPACE; default switchyard)',
    )
    .option('--json', 'print machine-readable JSON on stdout')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError('(add --help for usage and examples)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 operation failed (the error code is printed), 2 usage error,
3 etcd or RabbitMQ unreachable, 130 interrupted. See docs/cli.md.

Examples:
  switchyard services
  switchyard routes apply -f routes.yaml --dry-run
  switchyard call orders.get '{"orderId":"o-1"}'
  switchyard subscribe 'orders.*'
`,
  );
  registerGatewayCommand(program, io);
  registerServicesCommand(program, io);
  registerRoutesCommand(program, io);
  registerSchemasCommand(program, io);
  registerConfigCommand(program, io);
  registerCallCommand(program, io);
  registerPublishCommand(program, io);
  registerSubscribeCommand(program, io);
  registerNewCommand(program, io, VERSION);
  registerTokenCommand(program, io);
  registerAuthCommand(program, io);
  registerCertsCommand(program, io);
  return program;
}
