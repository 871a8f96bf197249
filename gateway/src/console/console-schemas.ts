import { InvalidArgumentError, SchemaNotFoundError } from '@switchyard/broker';
import {
  type Break,
  checkCompatibility,
  createEtcdClient,
  type Infrastructure,
  type JsonSchema,
  SchemaPublisher,
} from '@switchyard/sdk';
import type { Etcd3 } from 'etcd3';

export interface SchemaSummary {
  id: string;
  /** The version the gateway has loaded (etcd); undefined for a directory of schemas. */
  version: number | undefined;
  origin: string;
}

export interface SchemaVersion {
  version: number | undefined;
  publishedAt: string | undefined;
  forced: boolean;
  breaks: Break[];
  schema: unknown;
}

/**
 * Schemas for the console: the ones the gateway has loaded, their version history (from
 * etcd, where the publisher keeps it; a directory has only the current file), and the
 * backward-compatibility check of a pasted schema against the current version — the
 * same `checkCompatibility` the publisher refuses a version with.
 */
export class ConsoleSchemas {
  readonly #infra: Infrastructure;
  #client: Etcd3 | undefined;
  #publisher: SchemaPublisher | undefined;

  constructor(infra: Infrastructure) {
    this.#infra = infra;
  }

  list(): SchemaSummary[] {
    const r = this.#infra.schemas;
    return r
      .ids()
      .sort()
      .map((id) => {
        const d = r.document(id)!;
        return { id, version: d.version, origin: d.origin };
      });
  }

  async history(id: string): Promise<SchemaVersion[]> {
    const publisher = this.#etcd();
    if (publisher !== undefined) {
      return (await publisher.history(id)).map((rec) => ({
        version: rec.version,
        publishedAt: rec.publishedAt,
        forced: rec.forced,
        breaks: rec.breaks ?? [],
        schema: rec.schema,
      }));
    }
    const doc = this.#infra.schemas.document(id);
    if (doc === undefined) throw notFound(id);
    return [{ version: undefined, publishedAt: undefined, forced: false, breaks: [], schema: doc.schema }];
  }

  /** Every way `candidate` would reject a payload the loaded version of `id` accepts. */
  check(id: string, candidate: unknown): Break[] {
    const doc = this.#infra.schemas.document(id);
    if (doc === undefined) throw notFound(id);
    if (
      typeof candidate !== 'boolean' &&
      (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate))
    ) {
      throw new InvalidArgumentError('the pasted schema must be a JSON object (or a boolean schema)', {
        details: { violations: [{ pointer: '/schema', message: 'must be an object or a boolean' }] },
      });
    }
    const resolve = (ref: string): JsonSchema | undefined => this.#infra.schemas.document(ref)?.schema;
    return checkCompatibility(doc.schema, candidate as JsonSchema, { resolve });
  }

  close(): void {
    this.#client?.close();
  }

  #etcd(): SchemaPublisher | undefined {
    const config = this.#infra.config;
    if (config.schemas.kind !== 'etcd') return undefined;
    // Its own client, opened on first use: the console is cold, the gateway must not pay for it at start.
    this.#client ??= createEtcdClient(config.etcdEndpoints, { tls: config.etcdTls });
    this.#publisher ??= new SchemaPublisher({ client: this.#client, namespace: config.namespace });
    return this.#publisher;
  }
}

function notFound(id: string) {
  return new SchemaNotFoundError(`no schema with $id ${JSON.stringify(id)} is loaded`, { details: { id } });
}
