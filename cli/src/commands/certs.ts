import { resolve } from 'node:path';
import { DEFAULT_CERT_VALIDITY_DAYS, initCa, issueCert, type KeyType } from '@switchyard/auth';
import { InvalidOptionsError } from '@switchyard/broker';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { collect } from '../input/durations.js';
import { UsageError } from '../output/cli-errors.js';
import type { CliIo } from '../output/io.js';
import { action, examples } from './command-kit.js';

/** Where `certs init` writes and `certs issue` reads the CA unless told otherwise. */
export const DEFAULT_CA_DIR = 'certs';

/** initCa/issueCert option -> the flag a user of this command typed. */
const FLAG_OF: Readonly<Record<string, string>> = {
  dir: '--dir',
  caDir: '--ca-dir',
  commonName: '--cn',
  validityDays: '--days',
  keyType: '--key-type',
  force: '--force',
  name: '<name>',
  dns: '--dns',
  ip: '--ip',
  'dns/ip': '--dns/--ip',
  'client/server': '--client/--server',
  outDir: '--out-dir',
};

interface InitOpts {
  dir: string;
  cn?: string;
  days?: string;
  keyType?: string;
  force?: boolean;
}

interface IssueOpts {
  caDir: string;
  dns?: string[];
  ip?: string[];
  client?: boolean;
  server?: boolean;
  days?: string;
  keyType?: string;
  outDir?: string;
  force?: boolean;
}

/** `switchyard certs init|issue`: the development CA (auth/src/ca) on the command line, no openssl needed. */
export function registerCertsCommand(program: Command, io: CliIo): Command {
  const certs = program
    .command('certs')
    .summary('a development CA: per-service TLS certificates without openssl')
    .description(
      'a development certificate authority for TLS to RabbitMQ, etcd and Redis and between services (docs/tls.md); production certificates come from your own PKI',
    );
  examples(certs, [
    'switchyard certs init',
    'switchyard certs issue rabbitmq --server --dns rabbitmq --dns localhost --ip 127.0.0.1',
    'switchyard certs issue orders --client',
  ]);

  examples(
    certs
      .command('init')
      .description(
        'create the CA: <dir>/ca.crt (give it to every client and server to trust) and <dir>/ca.key (mode 600)',
      )
      .option('--dir <dir>', 'where ca.crt and ca.key go', DEFAULT_CA_DIR)
      .option('--cn <name>', 'subject common name of the CA (default "Switchyard development CA")')
      .option('--days <n>', 'validity in days (default 3650)')
      .option('--key-type <type>', 'ec (ECDSA P-256, default) or rsa (2048)')
      .option('--force', 'replace an existing CA: every certificate it issued stops verifying')
      .action(action<InitOpts>(io, init)),
    ['switchyard certs init', 'switchyard certs init --dir ./pki --cn "Acme dev CA" --json'],
  );

  examples(
    certs
      .command('issue')
      .description(
        `issue <name>.crt and <name>.key (mode 600) signed by the CA, valid ${DEFAULT_CERT_VALIDITY_DAYS} days by default; with neither --client nor --server, both`,
      )
      .argument('<name>', 'subject CN and file name: letters, digits, . _ -')
      .option('--ca-dir <dir>', 'the CA made by certs init', DEFAULT_CA_DIR)
      .option('--dns <name>', 'a DNS name the certificate is valid for (repeatable; wildcards as *.svc.local)', collect)
      .option('--ip <address>', 'an IP address the certificate is valid for (repeatable)', collect)
      .option('--client', 'for a TLS client (clientAuth): a service connecting to RabbitMQ, etcd or Redis')
      .option('--server', 'for a TLS server (serverAuth): needs at least one --dns or --ip')
      .option('--days <n>', `validity in days (default ${DEFAULT_CERT_VALIDITY_DAYS}; must end before the CA)`)
      .option('--key-type <type>', 'ec (ECDSA P-256, default) or rsa (2048)')
      .option('--out-dir <dir>', 'where <name>.crt and <name>.key go (default the CA directory)')
      .option('--force', 'replace an existing <name>.crt/<name>.key')
      .action(action<IssueOpts>(io, issue)),
    [
      'switchyard certs issue etcd --server --dns localhost --ip 127.0.0.1',
      'switchyard certs issue payments --client --out-dir ./secrets',
      'SWITCHYARD_AMQP_CA=certs/ca.crt SWITCHYARD_AMQP_CERT=certs/payments.crt SWITCHYARD_AMQP_KEY=certs/payments.key node payments.js',
    ],
  );
  return certs;
}

async function init(ctx: CommandContext, _args: string[], opts: InitOpts): Promise<void> {
  const ca = await asUsage(() =>
    initCa({
      dir: resolve(ctx.io.cwd, opts.dir),
      ...(opts.cn === undefined ? {} : { commonName: opts.cn }),
      ...days(opts.days),
      ...keyType(opts.keyType),
      force: opts.force === true,
    }),
  );
  const result = {
    certFile: ca.certFile,
    keyFile: ca.keyFile,
    serialNumber: ca.serialNumber,
    notAfter: ca.notAfter.toISOString(),
  };
  if (ctx.json) {
    ctx.outJson(result);
    return;
  }
  ctx.out(`created the development CA (valid until ${result.notAfter})
  ${ca.certFile}   trust this everywhere (SWITCHYARD_*_CA, RabbitMQ cacertfile, etcd --trusted-ca-file, Redis tls-ca-cert-file)
  ${ca.keyFile}   signs certificates: keep it to yourself (mode 600)
next: switchyard certs issue <name> --server --dns <host> | --client`);
}

async function issue(ctx: CommandContext, args: string[], opts: IssueOpts): Promise<void> {
  const name = args[0]!;
  const cert = await asUsage(() =>
    issueCert({
      caDir: resolve(ctx.io.cwd, opts.caDir),
      name,
      dns: opts.dns ?? [],
      ip: opts.ip ?? [],
      ...(opts.client === true ? { client: true } : {}),
      ...(opts.server === true ? { server: true } : {}),
      // --client alone means client only, --server alone server only.
      ...(opts.client === true && opts.server !== true ? { server: false } : {}),
      ...(opts.server === true && opts.client !== true ? { client: false } : {}),
      ...days(opts.days),
      ...keyType(opts.keyType),
      ...(opts.outDir === undefined ? {} : { outDir: resolve(ctx.io.cwd, opts.outDir) }),
      force: opts.force === true,
    }),
  );
  const usage = opts.client === opts.server ? ['client', 'server'] : opts.client === true ? ['client'] : ['server'];
  const result = {
    name,
    certFile: cert.certFile,
    keyFile: cert.keyFile,
    usage,
    dns: opts.dns ?? [],
    ip: opts.ip ?? [],
    serialNumber: cert.serialNumber,
    notAfter: cert.notAfter.toISOString(),
  };
  if (ctx.json) {
    ctx.outJson(result);
    return;
  }
  const names = [...result.dns, ...result.ip];
  ctx.out(`issued ${name} (${usage.join(' + ')}${names.length > 0 ? ` for ${names.join(', ')}` : ''}; valid until ${result.notAfter})
  ${cert.certFile}
  ${cert.keyFile}   (mode 600)`);
}

function days(value: string | undefined): { validityDays?: number } {
  if (value === undefined) return {};
  if (!/^\d+$/.test(value)) throw new UsageError(`--days takes a whole number of days, got ${JSON.stringify(value)}`);
  return { validityDays: Number(value) };
}

function keyType(value: string | undefined): { keyType?: KeyType } {
  return value === undefined ? {} : { keyType: value as KeyType };
}

/** The library names its options (`issueCert option "dns/ip" ...`); say it in this command's flags. */
async function asUsage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof InvalidOptionsError)) throw err;
    const option = String((err.details as { option?: unknown } | undefined)?.option ?? '');
    const problem = err.message.replace(/^\w+ option "[^"]*" /, '');
    throw new UsageError(`${FLAG_OF[option] ?? option} ${problem}`, { cause: err });
  }
}
