import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { UsageError } from '../output/cli-errors.js';
import type { CliIo } from '../output/io.js';
import { pythonServiceFiles } from '../templates/python-template.js';
import { templateNames } from '../templates/template-names.js';
import { typescriptServiceFiles } from '../templates/typescript-template.js';
import { action, examples } from './command-kit.js';

interface NewServiceOpts {
  lang: string;
  dir?: string;
  force?: boolean;
}

export function registerNewCommand(program: Command, io: CliIo, sdkVersion: string): void {
  const create = program
    .command('new')
    .summary('generate a service from a template')
    .description('generate a project from a template');
  examples(create, ['switchyard new service orders']);
  examples(
    create
      .command('service')
      .description('a service with one method, its schemas, a test, a Dockerfile and a README, ready to run')
      .argument('<name>', 'service name: lower-case words and dashes (order-history)')
      .option('--lang <lang>', 'ts (createService from @switchyard/sdk) or python (pika, docs/protocol.md)', 'ts')
      .option('--dir <dir>', 'where to generate it (default ./<name>)')
      .option('--force', 'write into a directory that is not empty (files of the same name are replaced)')
      .action(action<NewServiceOpts>(io, (ctx, args, opts) => newService(ctx, args, opts, sdkVersion))),
    [
      'switchyard new service orders                   # ./orders, TypeScript',
      'switchyard new service inventory --lang python --dir services/inventory',
    ],
  );
}

async function newService(ctx: CommandContext, [name]: string[], opts: NewServiceOpts, sdkVersion: string) {
  const names = templateNames(name!);
  let files: Record<string, string>;
  if (opts.lang === 'ts' || opts.lang === 'typescript') files = typescriptServiceFiles(names, sdkVersion);
  else if (opts.lang === 'python' || opts.lang === 'py') files = pythonServiceFiles(names);
  else throw new UsageError(`--lang must be ts or python, got ${JSON.stringify(opts.lang)}`);
  const dir = resolve(ctx.io.cwd, opts.dir ?? names.service);
  const existing = await readdir(dir).catch(() => []);
  if (existing.length > 0 && !opts.force) {
    throw new UsageError(`${dir} exists and is not empty: choose another --dir, or --force to write into it`);
  }
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content, { mode: path.endsWith('.py') && !path.startsWith('test_') ? 0o755 : 0o644 });
  }
  const shown = relative(ctx.io.cwd, dir) || '.';
  const lang = files['service.py'] ? 'python' : 'ts';
  if (ctx.json) {
    ctx.outJson({ service: names.service, lang, dir, files: Object.keys(files).sort() });
    return;
  }
  ctx.out(`created ${lang === 'ts' ? 'TypeScript' : 'Python'} service ${names.service} in ${shown}/`);
  for (const path of Object.keys(files).sort()) ctx.out(`  ${path}`);
  ctx.out('next:');
  if (lang === 'ts') {
    ctx.out(`  cd ${shown} && npm install && npm test`);
    ctx.out('  npm run dev                      # embedded; set SWITCHYARD_ETCD and SWITCHYARD_AMQP for real servers');
  } else {
    ctx.out(`  cd ${shown} && pip install -r requirements.txt && python3 -m unittest`);
    ctx.out('  SWITCHYARD_AMQP=amqp://... SWITCHYARD_ETCD=http://... python3 service.py');
  }
  ctx.out(`  switchyard call ${names.service}.greet '{"name":"Ada"}'`);
}
