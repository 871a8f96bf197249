import { buildOpenApi, checkRoute, declaredMethod, type OpenApiDocument, type OpenApiRoute } from '@switchyard/gateway';
import { EtcdRegistry, type JsonSchemaObject, type ServiceInstance } from '@switchyard/sdk';
import { requireEtcd } from '../connect/etcd.js';
import type { CommandContext } from '../context.js';
import { schemaDocuments } from '../schemas/schema-documents.js';
import { readStoredRoutes } from './etcd-routes.js';

export interface OpenApiCommandOptions {
  /** Only the routes callable without credentials, as an anonymous client sees them. */
  public?: boolean;
  /** Auth mode of routes without `auth` (the gateway's `defaultAuth`). Default `required`. */
  defaultAuth: 'required' | 'optional' | 'off';
  /** Read schemas from this directory instead of etcd. */
  schemas?: string;
  title: string;
  /** The gateway verifies bearer JWTs (default) and/or API keys in this header. */
  bearer: boolean;
  apiKeyHeader?: string;
}

/**
 * The document `GET /openapi.json` would give, from what etcd holds: the valid routes
 * (in precedence order: priority, then id), the latest published schemas (or a local
 * directory) and the methods the registered instances declare.
 */
export async function openApiFromEtcd(ctx: CommandContext, o: OpenApiCommandOptions): Promise<OpenApiDocument> {
  const ns = ctx.settings.namespace;
  const stored = await ctx.etcdStep('reading routes from etcd', (c) => readStoredRoutes(c, ns));
  const routes: OpenApiRoute[] = [];
  let skipped = 0;
  for (const s of stored.routes) {
    const check = s.value === undefined ? undefined : checkRoute(s.value, { expectedId: s.id });
    if (!check?.ok) {
      skipped++;
      continue;
    }
    const def = check.route;
    const authMode = def.auth?.mode ?? o.defaultAuth;
    if (o.public && authMode === 'required') continue;
    routes.push({ definition: def, authMode, scopes: def.auth?.scopes ?? [] });
  }
  if (skipped > 0) ctx.note(`${skipped} invalid route(s) left out (see \`switchyard routes list\`)`);
  routes.sort(
    (a, b) =>
      (b.definition.priority ?? 0) - (a.definition.priority ?? 0) || a.definition.id.localeCompare(b.definition.id),
  );

  const documents = await schemaDocuments(ctx, o.schemas);
  const schemas = new Map<string, JsonSchemaObject>(documents.map((d) => [d.id, d.schema]));
  const instances = await instancesOf(ctx, new Set(routes.map((r) => r.definition.target.service)));
  return buildOpenApi({
    routes,
    schema: (id) => schemas.get(id),
    method: (service, method) => declaredMethod(instances.get(service) ?? [], method),
    title: o.title,
    version: `routes-${stored.routes.length}`,
    credentials: { bearer: o.bearer, apiKeyHeader: o.apiKeyHeader },
  });
}

/** The registered instances of each service. */
async function instancesOf(ctx: CommandContext, services: Set<string>): Promise<Map<string, ServiceInstance[]>> {
  const registry = new EtcdRegistry({
    endpoints: [...requireEtcd(ctx.settings)],
    namespace: ctx.settings.namespace,
    dialTimeoutMs: 5_000,
  });
  ctx.defer(() => registry.close());
  const out = new Map<string, ServiceInstance[]>();
  await ctx.reachEtcd('reading the registry', async () => {
    for (const service of services) out.set(service, await registry.listInstances(service));
  });
  return out;
}
