import { resolve } from 'node:path';
import { EtcdSchemaSource, loadSchemaDirectory, type SchemaDocument } from '@switchyard/sdk';
import type { CommandContext } from '../context.js';

/** The schemas a document is built from: the latest published in etcd, or a local directory (`--schemas`). */
export async function schemaDocuments(ctx: CommandContext, dir: string | undefined): Promise<SchemaDocument[]> {
  return dir === undefined ? etcdSchemas(ctx) : dirSchemas(ctx, dir);
}

async function etcdSchemas(ctx: CommandContext): Promise<SchemaDocument[]> {
  const source = new EtcdSchemaSource({ client: ctx.etcd(), namespace: ctx.settings.namespace });
  ctx.defer(() => source.close());
  return ctx.reachEtcd(
    'reading schemas from etcd',
    () =>
      new Promise<SchemaDocument[]>((resolveDocs, reject) => {
        source.start((snapshot) => resolveDocs(snapshot.documents)).catch(reject);
      }),
  );
}

async function dirSchemas(ctx: CommandContext, dir: string): Promise<SchemaDocument[]> {
  const snapshot = await ctx.step('loading schemas', () => loadSchemaDirectory(resolve(ctx.io.cwd, dir)));
  return snapshot.documents;
}
