import { InvalidArgumentError, NotFoundError } from '@switchyard/broker';
import {
  type ConfigDocument,
  type ConfigEdit,
  type ConfigPlan,
  commitConfigPlan,
  configPathOf,
  configPrefix,
  configValueAt,
  createAjv,
  decodeConfigValue,
  EtcdConfigSource,
  parsePath,
  planEtcdConfig,
  readEtcdConfig,
  toViolations,
} from '@switchyard/sdk';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { CommandContext } from '../context.js';
import { parsePositiveInt } from '../input/durations.js';
import { readInputFile } from '../input/read-input.js';
import type { CliIo } from '../output/io.js';
import { action, examples } from './command-kit.js';

interface WriteOpts {
  dryRun?: boolean;
  schema?: string;
}

export function registerConfigCommand(program: Command, io: CliIo): void {
  const config = program
    .command('config')
    .summary("get, set, watch and apply services' dynamic config in etcd")
    .description(
      "manage the shared config layer services watch (/<namespace>/config/<scope>/, one key a setting; a service's scope is its name)",
    );
  examples(config, [
    'switchyard config get orders',
    'switchyard config set orders features.checkout true',
    'switchyard config apply orders -f orders-config.yaml --dry-run',
    'switchyard config watch orders features',
  ]);

  examples(
    config
      .command('get')
      .description("print a scope's config, or the value at a dotted path, as JSON")
      .argument('<scope>', 'config scope (a service name)')
      .argument('[path]', 'dotted path, e.g. features.checkout (default: the whole config)')
      .action(action(io, getConfig)),
    ['switchyard config get orders', 'switchyard config get orders limits.maxItems'],
  );

  examples(
    config
      .command('set')
      .description('set one value (JSON; text that is not JSON is taken as a string) in one transaction')
      .argument('<scope>', 'config scope (a service name)')
      .argument('<path>', 'dotted path, e.g. features.checkout')
      .argument('<value>', 'JSON value (an object replaces everything under the path)')
      .option(
        '--schema <file>',
        'check the resulting config against this JSON Schema first; nothing is written if it fails',
      )
      .option('--dry-run', 'show what would change and write nothing')
      .action(action<WriteOpts>(io, setConfig)),
    [
      'switchyard config set orders features.checkout true',
      `switchyard config set orders limits '{"maxItems":50,"maxWeightKg":20}'`,
      'switchyard config set orders banner "Closed on Sunday"',
    ],
  );

  examples(
    config
      .command('unset')
      .description('remove the value at a path and everything under it')
      .argument('<scope>', 'config scope (a service name)')
      .argument('<path>', 'dotted path')
      .option('--dry-run', 'show what would change and write nothing')
      .action(action<WriteOpts>(io, unsetConfig)),
    ['switchyard config unset orders features.legacy'],
  );

  examples(
    config
      .command('apply')
      .description(
        "write a YAML or JSON document into a scope's config in one transaction (services see one change); with --prune the scope becomes exactly the file",
      )
      .argument('<scope>', 'config scope (a service name)')
      .requiredOption('-f, --file <path>', 'config file, YAML or JSON object (- for stdin)')
      .option('--prune', 'also remove settings the file does not have')
      .option(
        '--schema <file>',
        'check the resulting config against this JSON Schema first; nothing is written if it fails',
      )
      .option('--dry-run', 'show what would change and write nothing')
      .action(action<WriteOpts & { file: string; prune?: boolean }>(io, applyConfig)),
    [
      'switchyard config apply orders -f orders.yaml --dry-run',
      'switchyard config apply orders -f orders.yaml --prune --schema schemas/orders-config.json',
    ],
  );

  examples(
    config
      .command('watch')
      .description('print the value at a path, then every change to it, one JSON line each, until interrupted')
      .argument('<scope>', 'config scope (a service name)')
      .argument('[path]', 'dotted path (default: the whole config)')
      .option('--count <n>', 'exit after this many changes')
      .action(action<{ count?: string }>(io, watchConfig)),
    ['switchyard config watch orders', 'switchyard config watch orders features.checkout --count 1'],
  );
}

function checkScope(scope: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(scope)) {
    throw new InvalidArgumentError(
      `config scope ${JSON.stringify(scope)} is invalid: letters, digits, ".", "_" or "-" (a service name)`,
      { details: { scope } },
    );
  }
}

async function getConfig(ctx: CommandContext, [scope, path]: string[]): Promise<void> {
  checkScope(scope!);
  const segments = parsePath(path ?? '');
  const ns = ctx.settings.namespace;
  const { doc } = await ctx.etcdStep('reading config from etcd', (c) => readEtcdConfig(c, ns, scope!));
  const value = configValueAt(doc, segments);
  if (value === undefined && segments.length > 0) {
    throw new NotFoundError(`nothing at ${path} in ${configPrefix(ns, scope!)}`, { details: { scope, path } });
  }
  ctx.outJson(value ?? {});
}

async function setConfig(ctx: CommandContext, [scope, path, value]: string[], opts: WriteOpts): Promise<void> {
  checkScope(scope!);
  parsePath(path!);
  await writeEdit(ctx, scope!, { set: { [path!]: decodeConfigValue(value!) } }, opts);
}

async function unsetConfig(ctx: CommandContext, [scope, path]: string[], opts: WriteOpts): Promise<void> {
  checkScope(scope!);
  if (parsePath(path!).length === 0)
    throw new InvalidArgumentError('give a path to unset (to empty a scope use apply --prune with {})');
  await writeEdit(ctx, scope!, { unset: [path!] }, opts);
}

async function applyConfig(
  ctx: CommandContext,
  [scope]: string[],
  opts: WriteOpts & { file: string; prune?: boolean },
): Promise<void> {
  checkScope(scope!);
  const { text, name } = await readInputFile(ctx.io, opts.file, 'config file');
  let doc: unknown;
  try {
    doc = name.endsWith('.json') ? JSON.parse(text) : (parseYaml(text) ?? {});
  } catch (err) {
    // yaml's message goes on to quote the line with a caret under it: the first line says it all.
    const reason = (err as Error).message.split('\n')[0]!.replace(/:$/, '');
    throw new InvalidArgumentError(`${name} does not parse (${reason}); nothing was written`, {
      details: { file: name },
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new InvalidArgumentError(`${name} must hold an object of settings at the top; nothing was written`);
  }
  // Without --prune each leaf is set on its own path, so settings the file does not name stay.
  const edit: ConfigEdit = opts.prune ? { set: { '': doc } } : { set: leafEdits(doc as ConfigDocument) };
  await writeEdit(ctx, scope!, edit, opts);
}

function leafEdits(doc: ConfigDocument, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0) {
      Object.assign(out, leafEdits(v as ConfigDocument, path));
    } else out[path] = v;
  }
  return out;
}

async function writeEdit(ctx: CommandContext, scope: string, edit: ConfigEdit, opts: WriteOpts): Promise<void> {
  const ns = ctx.settings.namespace;
  const validate = opts.schema ? await loadSchema(ctx, opts.schema) : undefined;
  const plan = await ctx.etcdStep('reading config from etcd', (c) => planEtcdConfig(c, ns, scope, edit));
  if (validate) {
    const after = afterPlan(plan);
    if (!validate(after)) {
      const violations = toViolations(validate.errors);
      throw new InvalidArgumentError(
        `the config would fail ${opts.schema}: ${violations.map((v) => `${v.pointer || '/'}: ${v.message}`).join('; ')}; nothing was written`,
        { details: { violations } },
      );
    }
  }
  const changes = {
    put: plan.puts.map(([key, text]) => ({ path: configPathOf(plan, key), value: decodeConfigValue(text) })),
    deleted: plan.deletes.map((key) => configPathOf(plan, key)),
  };
  if (opts.dryRun) {
    if (ctx.json) ctx.outJson({ dryRun: true, ...changes });
    else report(ctx, changes, plan, 'would ');
    return;
  }
  const result = await ctx.etcdStep('writing config to etcd', (c) => commitConfigPlan(c, plan));
  if (ctx.json) ctx.outJson({ revision: result.revision, ...changes });
  else report(ctx, changes, plan, '');
}

function report(
  ctx: CommandContext,
  changes: { put: Array<{ path: string; value: unknown }>; deleted: string[] },
  plan: ConfigPlan,
  mood: string,
): void {
  if (changes.put.length === 0 && changes.deleted.length === 0) {
    ctx.out(`no change to ${plan.prefix}`);
    return;
  }
  const lines = [
    ...changes.put.map(
      (p) =>
        `${plan.before[`${plan.prefix}${p.path.replaceAll('.', '/')}`] === undefined ? '+' : '~'} ${p.path} = ${JSON.stringify(p.value)}`,
    ),
    ...changes.deleted.map((d) => `- ${d}`),
  ];
  ctx.out(
    `${lines.join('\n')}\n${mood}${mood ? 'write' : 'wrote'} ${lines.length} setting${lines.length === 1 ? '' : 's'} in ${plan.prefix}`,
  );
}

/** The scope's document as it will be after the plan. */
function afterPlan(plan: ConfigPlan): ConfigDocument {
  const raw: Record<string, string> = { ...plan.before };
  for (const key of plan.deletes) delete raw[key];
  for (const [key, text] of plan.puts) raw[key] = text;
  const doc: ConfigDocument = {};
  for (const [key, text] of Object.entries(raw).sort(([a], [b]) => (a < b ? -1 : 1))) {
    let at = doc;
    const segments = key.slice(plan.prefix.length).split('/');
    for (const s of segments.slice(0, -1)) {
      if (typeof at[s] !== 'object' || at[s] === null || Array.isArray(at[s])) at[s] = {};
      at = at[s] as ConfigDocument;
    }
    at[segments[segments.length - 1]!] = decodeConfigValue(text);
  }
  return doc;
}

async function loadSchema(ctx: CommandContext, file: string) {
  const { text, name } = await readInputFile(ctx.io, file, 'schema file');
  let schema: unknown;
  try {
    schema = name.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new InvalidArgumentError(`schema ${name} does not parse: ${(err as Error).message}`);
  }
  try {
    return createAjv().compile(schema as object);
  } catch (err) {
    throw new InvalidArgumentError(`schema ${name} does not compile: ${(err as Error).message}`);
  }
}

async function watchConfig(ctx: CommandContext, [scope, path]: string[], opts: { count?: string }): Promise<void> {
  checkScope(scope!);
  const segments = parsePath(path ?? '');
  const count = opts.count === undefined ? undefined : parsePositiveInt(opts.count, '--count');
  const source = new EtcdConfigSource({ client: ctx.etcd(), namespace: ctx.settings.namespace, scope: scope! });
  await ctx.reachEtcd('reading config from etcd', () => source.start());
  try {
    let last = JSON.stringify(configValueAt(source.current(), segments) ?? null);
    let synced = source.synced;
    ctx.io.stdout.write(`${JSON.stringify({ value: JSON.parse(last), synced })}\n`);
    let seen = 0;
    await new Promise<void>((resolve) => {
      const signal = ctx.io.signal;
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
      source.subscribe(() => {
        const now = JSON.stringify(configValueAt(source.current(), segments) ?? null);
        if (now === last && source.synced === synced) return;
        const changed = now !== last;
        last = now;
        synced = source.synced;
        ctx.io.stdout.write(`${JSON.stringify({ value: JSON.parse(now), synced })}\n`);
        if (changed && count !== undefined && ++seen >= count) resolve();
      });
    });
  } finally {
    await source.close();
  }
}
