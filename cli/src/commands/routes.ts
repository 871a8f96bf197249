import { NotFoundError } from '@switchyard/broker';
import { checkRoute, routeKey, routesPrefix } from '@switchyard/gateway';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../context.js';
import { readInputFile } from '../input/read-input.js';
import type { CliIo } from '../output/io.js';
import { renderTable } from '../output/table.js';
import { applyDocuments } from '../routes/apply-documents.js';
import { readStoredRoutes } from '../routes/etcd-routes.js';
import { openApiFromEtcd } from '../routes/openapi-from-etcd.js';
import { validateRoutesFile } from '../routes/routes-file.js';
import { action, examples } from './command-kit.js';

export function registerRoutesCommand(program: Command, io: CliIo): void {
  const routes = program
    .command('routes')
    .summary('apply, list, get and delete gateway routes in etcd; print their OpenAPI')
    .description('manage the gateway routes stored in etcd (/<namespace>/routes/<id>)');
  examples(routes, [
    'switchyard routes apply -f routes.yaml --dry-run',
    'switchyard routes list',
    'switchyard routes get orders-read',
    'switchyard routes openapi > openapi.json',
  ]);

  examples(
    routes
      .command('apply')
      .summary('make etcd hold exactly the routes of a file')
      .description(
        'make etcd hold the routes of a file: validate all, show the diff, then write (nothing is written if any route is invalid)',
      )
      .requiredOption(
        '-f, --file <path>',
        'routes file, YAML or JSON: a list of routes or { routes: [...] } (- for stdin)',
      )
      .option('--dry-run', 'show what would change and write nothing')
      .option('--prune', 'also delete routes in etcd that the file does not have')
      .action(action<{ file: string; dryRun?: boolean; prune?: boolean }>(io, applyRoutes)),
    [
      'switchyard routes apply -f routes.yaml --dry-run     # validate and show the diff',
      'switchyard routes apply -f routes.yaml               # add and change routes',
      'switchyard routes apply -f routes.yaml --prune       # ... and delete the ones not in the file',
      'cat routes.json | switchyard routes apply -f - --json',
    ],
  );

  examples(
    routes
      .command('list')
      .description('list the routes in etcd, with any that fail validation marked')
      .action(action(io, listRoutes)),
    [
      'switchyard routes list',
      'switchyard routes list --json | jq ".[].id"',
      'switchyard --namespace staging routes list',
    ],
  );

  examples(
    routes
      .command('get')
      .description('print one route as JSON')
      .argument('<id>', 'route id')
      .action(action(io, getRoute)),
    ['switchyard routes get orders-read'],
  );

  examples(
    routes
      .command('openapi')
      .summary('print the OpenAPI 3.1 description of the routes in etcd')
      .description(
        'print the OpenAPI 3.1 document the gateway serves at /openapi.json, built from the routes, schemas and registered RPC methods in etcd (every route unless --public)',
      )
      .option('--public', 'only the routes callable without credentials (what an anonymous client sees)')
      .addOption(
        new Option('--default-auth <mode>', "auth mode of routes without one (the gateway's defaultAuth)")
          .choices(['required', 'optional', 'off'])
          .default('required'),
      )
      .option('--schemas <dir>', 'read schemas from this directory instead of etcd')
      .option('--title <text>', 'info.title', 'Switchyard gateway')
      .option('--api-key-header <name>', 'the gateway also takes API keys in this header')
      .option('--no-bearer', 'the gateway does not verify bearer JWTs')
      .action(
        action<{
          public?: boolean;
          defaultAuth: 'required' | 'optional' | 'off';
          schemas?: string;
          title: string;
          apiKeyHeader?: string;
          bearer: boolean;
        }>(io, async (ctx, _args, opts) => ctx.outJson(await openApiFromEtcd(ctx, opts))),
      ),
    ['switchyard routes openapi > openapi.json', 'switchyard routes openapi --public --schemas schemas/'],
  );

  examples(
    routes
      .command('delete')
      .description('delete one route')
      .argument('<id>', 'route id')
      .action(action(io, deleteRoute)),
    ['switchyard routes delete legacy-orders'],
  );
}

async function applyRoutes(
  ctx: CommandContext,
  _args: string[],
  opts: { file: string; dryRun?: boolean; prune?: boolean },
): Promise<void> {
  // Validate before touching etcd: an invalid file never needs a server to be refused.
  const { text, name } = await readInputFile(ctx.io, opts.file, 'routes file');
  const desired = validateRoutesFile(text, name);
  const ns = ctx.settings.namespace;
  await applyDocuments(ctx, {
    name,
    noun: 'routes',
    prefix: routesPrefix(ns),
    key: (id) => routeKey(ns, id),
    desired,
    prune: opts.prune === true,
    dryRun: opts.dryRun === true,
  });
}

async function listRoutes(ctx: CommandContext): Promise<void> {
  const ns = ctx.settings.namespace;
  const stored = await ctx.etcdStep('reading routes from etcd', (c) => readStoredRoutes(c, ns));
  const rows = stored.routes.map((s) => {
    const check = s.value === undefined ? undefined : checkRoute(s.value, { expectedId: s.id });
    const problem =
      check === undefined
        ? 'not JSON'
        : check.ok
          ? undefined
          : check.violations.map((v) => `${v.pointer || '/'}: ${v.message}`).join('; ');
    return { stored: s, route: check?.ok ? check.route : undefined, problem };
  });
  if (ctx.json) {
    ctx.outJson(
      rows.map((r) => ({
        id: r.stored.id,
        valid: r.problem === undefined,
        ...(r.problem === undefined ? {} : { problem: r.problem }),
        route: r.stored.value,
      })),
    );
    return;
  }
  if (rows.length === 0) {
    ctx.note(`no routes under ${routesPrefix(ns)}`);
    return;
  }
  ctx.out(
    renderTable(rows, [
      { header: 'ID', value: (r) => r.stored.id },
      { header: 'PRIORITY', value: (r) => String(r.route?.priority ?? (r.route ? 0 : '')) },
      { header: 'HOSTS', value: (r) => r.route?.match.hosts?.join(',') ?? (r.route ? '*' : '') },
      { header: 'METHODS', value: (r) => r.route?.match.methods?.join(',') ?? (r.route ? '*' : '') },
      { header: 'PATH', value: (r) => r.route?.match.path ?? '' },
      {
        header: 'TARGET',
        value: (r) => {
          const t = r.route?.target;
          if (!t) return '';
          return t.type === 'rpc' ? `rpc ${t.service}.${t.method}` : `http ${t.service}`;
        },
      },
      { header: 'STATUS', value: (r) => (r.problem === undefined ? 'ok' : `INVALID: ${r.problem}`) },
    ]),
  );
}

async function getRoute(ctx: CommandContext, [id]: string[]): Promise<void> {
  const ns = ctx.settings.namespace;
  const text = await ctx.etcdStep('reading the route from etcd', (c) => c.get(routeKey(ns, id!)).string());
  if (text === null)
    throw new NotFoundError(`no route ${JSON.stringify(id)} in ${routesPrefix(ns)}`, { details: { id } });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Show what is there, even if it is not JSON: that is what needs fixing.
    ctx.out(text);
    return;
  }
  ctx.outJson(value);
}

async function deleteRoute(ctx: CommandContext, [id]: string[]): Promise<void> {
  const ns = ctx.settings.namespace;
  const res = await ctx.etcdStep('deleting the route', (c) => c.delete().key(routeKey(ns, id!)).exec());
  if (Number(res.deleted) === 0) {
    throw new NotFoundError(`no route ${JSON.stringify(id)} in ${routesPrefix(ns)}`, { details: { id } });
  }
  if (ctx.json) ctx.outJson({ deleted: id, revision: String(res.header.revision) });
  else ctx.out(`deleted route ${id}`);
}
