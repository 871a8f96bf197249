import { ServiceNotFoundError } from '@switchyard/broker';
import {
  type AsyncApiDocument,
  buildAsyncApi,
  EtcdRegistry,
  type JsonSchemaObject,
  type ServiceInstance,
} from '@switchyard/sdk';
import { requireEtcd } from '../connect/etcd.js';
import type { CommandContext } from '../context.js';
import { schemaDocuments } from './schema-documents.js';

export interface AsyncApiCommandOptions {
  /** Read schemas from this directory instead of etcd. */
  schemas?: string;
  title: string;
  /** Only these services (repeatable flag, each may be a comma list). */
  service?: string[];
}

/**
 * The AsyncAPI document of what the registered instances declare, with the latest
 * published schemas (or a local directory). What the document cannot describe fully (a
 * topic without a schema, a schema not found) is said on stderr: the document is still
 * printed, as `routes openapi` does with invalid routes.
 */
export async function asyncApiFromEtcd(ctx: CommandContext, o: AsyncApiCommandOptions): Promise<AsyncApiDocument> {
  const only = o.service
    ?.flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const instances = await registered(ctx, only);
  const documents = await schemaDocuments(ctx, o.schemas);
  const schemas = new Map<string, JsonSchemaObject>(documents.map((d) => [d.id, d.schema]));
  const { document, warnings } = buildAsyncApi({
    instances,
    schema: (id) => schemas.get(id),
    namespace: ctx.settings.namespace,
    amqpUrl: ctx.settings.amqpUrl,
    title: o.title,
    version: `instances-${instances.length}`,
  });
  for (const w of warnings) ctx.note(`warning: ${w}`);
  return document;
}

/** Every registered instance, or those of `only` (each of which must have one). */
async function registered(ctx: CommandContext, only: string[] | undefined): Promise<ServiceInstance[]> {
  const registry = new EtcdRegistry({
    endpoints: [...requireEtcd(ctx.settings)],
    namespace: ctx.settings.namespace,
    dialTimeoutMs: 5_000,
  });
  ctx.defer(() => registry.close());
  const { names, instances } = await ctx.reachEtcd('reading the registry', async () => {
    const names = only === undefined || only.length === 0 ? await registry.listServices() : [...new Set(only)];
    const lists = await Promise.all(names.map((n) => registry.listInstances(n)));
    return { names, instances: lists };
  });
  if (only !== undefined) {
    const absent = names.filter((_, i) => instances[i]!.length === 0);
    if (absent.length > 0) {
      throw new ServiceNotFoundError(
        `no live instance of ${absent.join(', ')} in namespace ${ctx.settings.namespace} (see \`switchyard services\`)`,
        { details: { services: absent } },
      );
    }
  }
  return instances.flat();
}
