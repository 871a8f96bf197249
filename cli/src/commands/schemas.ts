import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SwitchyardError } from '@switchyard/broker';
import {
  compileSchemas,
  loadSchemaDirectory,
  SchemaPublisher,
  type SchemaPublishResult,
  schemaInvalidError,
  schemaLatestPrefix,
} from '@switchyard/sdk';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { collect, parsePositiveInt } from '../input/durations.js';
import { UnreachableError, UsageError } from '../output/cli-errors.js';
import type { CliIo } from '../output/io.js';
import { renderTable } from '../output/table.js';
import { asyncApiFromEtcd } from '../schemas/asyncapi-from-etcd.js';
import { readOnlyEtcd } from '../schemas/read-only-etcd.js';
import { action, examples } from './command-kit.js';

const DEFAULT_DIR = 'schemas';

export function registerSchemasCommand(program: Command, io: CliIo): void {
  const schemas = program
    .command('schemas')
    .summary('push, check, list and get JSON Schemas; print the AsyncAPI of events and RPC')
    .description('publish, check and list the JSON Schemas in etcd');
  examples(schemas, [
    'switchyard schemas check',
    'switchyard schemas push schemas/ --dry-run',
    'switchyard schemas list',
    'switchyard schemas asyncapi > asyncapi.json',
  ]);

  examples(
    schemas
      .command('push')
      .summary('publish a schema directory (compatibility-checked)')
      .description(
        'publish every *.json under a directory as new schema versions; refused (exit 1) when a change would break existing payloads',
      )
      .argument('[dir]', 'schema directory', DEFAULT_DIR)
      .option('--dry-run', 'run every check and show the versions that would be published; write nothing')
      .option('--force', 'publish even incompatible changes (the breaks are recorded with the version)')
      .action(action<{ dryRun?: boolean; force?: boolean }>(io, pushSchemas)),
    [
      'switchyard schemas push                        # ./schemas',
      'switchyard schemas push schemas/ --dry-run',
      'switchyard schemas push schemas/ --force       # accept the listed breaks',
    ],
  );

  examples(
    schemas
      .command('check')
      .summary('check a schema directory (for CI)')
      .description(
        'for CI: load and compile a directory, and check compatibility with what etcd has published (--offline: local checks only)',
      )
      .argument('[dir]', 'schema directory', DEFAULT_DIR)
      .option('--offline', 'do not contact etcd: only check that the schemas load and compile')
      .action(action<{ offline?: boolean }>(io, checkSchemas)),
    [
      'switchyard schemas check',
      'switchyard schemas check schemas/ --offline',
      'SWITCHYARD_ETCD=http://etcd:2379 switchyard schemas check --json',
    ],
  );

  examples(
    schemas
      .command('list')
      .description('list the published schemas and their latest versions')
      .action(action(io, listSchemas)),
    ['switchyard schemas list', 'switchyard schemas list --json'],
  );

  examples(
    schemas
      .command('get')
      .description('print a published schema (the latest version, or the one given); --json prints the whole record')
      .argument('<id>', 'the schema $id')
      .argument('[version]', 'this version instead of the latest')
      .action(action(io, getSchema)),
    [
      'switchyard schemas get https://schemas.switchyard.dev/orders/order.create.request.json',
      'switchyard schemas get https://schemas.switchyard.dev/orders/order.create.request.json 1 --json',
    ],
  );

  examples(
    schemas
      .command('asyncapi')
      .summary('print the AsyncAPI 3.0 description of the events and RPC methods')
      .description(
        'print an AsyncAPI 3.0 document of what the registered instances declare: a channel per event topic, send operations for emitters, receive operations (with group queues) for subscribers, RPC methods with their replies, payloads from the schemas in etcd; what it cannot describe is warned about on stderr',
      )
      .option('--schemas <dir>', 'read schemas from this directory instead of etcd')
      .option('--title <text>', 'info.title', 'Switchyard events and RPC')
      .option('--service <name>', 'only this service (repeatable, or a comma list)', collect)
      .action(
        action<{ schemas?: string; title: string; service?: string[] }>(io, async (ctx, _args, opts) =>
          ctx.outJson(await asyncApiFromEtcd(ctx, opts)),
        ),
      ),
    [
      'switchyard schemas asyncapi > asyncapi.json',
      'switchyard schemas asyncapi --service orders,billing --schemas schemas/',
      'SWITCHYARD_AMQP=amqp://rabbit:5672 switchyard schemas asyncapi   # with the broker as server',
    ],
  );
}

function publisher(ctx: CommandContext, dryRun: boolean): SchemaPublisher {
  const client = ctx.etcd();
  return new SchemaPublisher({ client: dryRun ? readOnlyEtcd(client) : client, namespace: ctx.settings.namespace });
}

/** The directory, resolved; a usage error when it is not one. */
async function schemaDir(ctx: CommandContext, dir: string): Promise<string> {
  const full = resolve(ctx.io.cwd, dir);
  const isDir = await stat(full).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new UsageError(`${dir} is not a directory of schema files`);
  return full;
}

/** Load and compile locally, as one set; throws SCHEMA_INVALID listing every broken file. */
async function loadValid(ctx: CommandContext, dir: string) {
  const full = await schemaDir(ctx, dir);
  const snapshot = await ctx.step('loading schemas', () => loadSchemaDirectory(full));
  const compiled = compileSchemas(snapshot.documents);
  const problems = [...snapshot.problems, ...compiled.problems];
  if (problems.length > 0) throw schemaInvalidError(problems);
  if (snapshot.documents.length === 0) throw new UsageError(`no *.json schema files under ${dir}`);
  return snapshot.documents;
}

async function pushSchemas(ctx: CommandContext, [dir]: string[], opts: { dryRun?: boolean; force?: boolean }) {
  const dryRun = opts.dryRun === true;
  // The publisher loads the directory itself and compiles it together with what is already
  // published (a subdirectory may $ref schemas published earlier).
  const results = await publishOrExplain(ctx, dir!, dryRun, opts.force === true);
  report(ctx, dir!, results, dryRun ? 'dry run: nothing was written' : undefined, dryRun);
}

async function checkSchemas(ctx: CommandContext, [dir]: string[], opts: { offline?: boolean }) {
  if (opts.offline) {
    // Offline, every $ref must resolve inside the directory.
    const documents = await loadValid(ctx, dir!);
    const line = `${documents.length} schemas load and compile (offline: compatibility with etcd not checked)`;
    if (ctx.json) ctx.outJson({ dir, offline: true, valid: true, schemas: documents.map((d) => d.id) });
    else ctx.out(line);
    return;
  }
  if (ctx.settings.etcdEndpoints.length === 0) {
    throw new UsageError(
      'no etcd configured to check compatibility against: pass --etcd or set SWITCHYARD_ETCD, or add --offline to check only that the schemas load and compile',
    );
  }
  const results = await publishOrExplain(ctx, dir!, true, false, true);
  report(ctx, dir!, results, 'compatible with every published version', true);
}

/** Publish (or dry-run); an incompatible change gets a hint about --force. */
async function publishOrExplain(
  ctx: CommandContext,
  dir: string,
  dryRun: boolean,
  force: boolean,
  offlineHint = false,
): Promise<SchemaPublishResult[]> {
  const full = await schemaDir(ctx, dir);
  const p = publisher(ctx, dryRun);
  try {
    const results = await ctx.reachEtcd(dryRun ? 'checking schemas against etcd' : 'publishing schemas', () =>
      p.publishDirectory(full, { force }),
    );
    if (results.length === 0) throw new UsageError(`no *.json schema files under ${dir}`);
    return results;
  } catch (err) {
    if (err instanceof SwitchyardError && err.code === 'SCHEMA_INCOMPATIBLE') {
      const breaks = Array.isArray(err.details?.breaks) ? (err.details.breaks as Array<{ id: string }>) : [];
      const ids = new Set(breaks.map((b) => b.id));
      const what = ids.size === 1 ? [...ids][0] : `${ids.size} schemas`;
      throw new SwitchyardError(err.code, `refused: ${what} would break payloads that are valid today`, {
        details: {
          ...err.details,
          hint: 'keep the change backward compatible (docs/schemas.md), or publish anyway with --force',
        },
      });
    }
    if (err instanceof UnreachableError && offlineHint) {
      throw new UnreachableError(err.message, {
        cause: err,
        details: { ...err.details, hint: 'add --offline to check only that the schemas load and compile' },
      });
    }
    throw err;
  }
}

function report(
  ctx: CommandContext,
  dir: string,
  results: SchemaPublishResult[],
  footer: string | undefined,
  dryRun: boolean,
) {
  if (ctx.json) {
    ctx.outJson({ dir, dryRun, results });
    return;
  }
  const status = (r: SchemaPublishResult) => {
    if (r.status === 'unchanged') return 'unchanged';
    const verb = dryRun ? 'would publish' : 'published';
    return r.breaks.length > 0 ? `${verb} (forced)` : verb;
  };
  ctx.out(`${dir} -> etcd ${schemaLatestPrefix(ctx.settings.namespace)}`);
  ctx.out(
    renderTable(results, [
      { header: 'STATUS', value: status },
      { header: 'VERSION', value: (r) => `v${r.version}` },
      { header: 'ID', value: (r) => r.id },
    ]),
  );
  for (const r of results) {
    for (const b of r.breaks) ctx.out(`  forced break in ${r.id} ${b.pointer || '/'}: ${b.message}`);
  }
  const published = results.filter((r) => r.status === 'published').length;
  ctx.out(
    `${results.length} schemas: ${published} ${dryRun ? 'to publish' : 'published'}, ${results.length - published} unchanged`,
  );
  if (footer) ctx.out(footer);
}

async function listSchemas(ctx: CommandContext): Promise<void> {
  const p = publisher(ctx, false);
  const list = await ctx.reachEtcd('reading schemas', () => p.list());
  if (ctx.json) {
    ctx.outJson(list);
    return;
  }
  if (list.length === 0) {
    ctx.note(`no schemas published under ${schemaLatestPrefix(ctx.settings.namespace)}`);
    return;
  }
  ctx.out(
    renderTable(list, [
      { header: 'ID', value: (s) => s.id },
      { header: 'VERSION', value: (s) => `v${s.version}` },
      { header: 'PUBLISHED', value: (s) => s.publishedAt },
      { header: 'FORCED', value: (s) => (s.forced ? 'yes' : '') },
    ]),
  );
}

async function getSchema(ctx: CommandContext, [id, wanted]: string[]): Promise<void> {
  const version = wanted === undefined ? undefined : parsePositiveInt(wanted, 'version');
  const p = publisher(ctx, false);
  const record = await ctx.reachEtcd('reading the schema', () => p.get(id!, version));
  ctx.outJson(ctx.json ? record : record.schema);
}
