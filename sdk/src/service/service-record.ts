/**
 * What a service's options say about it to others: the registry record it registers
 * (methods and streams with their schemas, events, metadata), and the check that every
 * schema id the options name is loaded before it comes up.
 */
import { SchemaNotFoundError } from '@switchyard/broker';
import type { Infrastructure } from '../config/infrastructure.js';
import type { MethodInfo } from '../registry/instance-record.js';
import type { ResolvedServiceOptions } from './service-options.js';

/** Every schema id the options name must be loaded: a service that cannot validate should not come up. */
export function checkSchemaRefs(o: ResolvedServiceOptions, infra: Infrastructure): void {
  const refs: Array<[string, string | undefined | null]> = [];
  for (const m of o.methods)
    refs.push([`methods.${m.name}.request`, m.request], [`methods.${m.name}.response`, m.response]);
  for (const m of o.streams) {
    const item = m.declaredIn === 'methods' ? `methods.${m.name}.response` : `streams.${m.name}.item`;
    refs.push([`${m.declaredIn}.${m.name}.request`, m.request], [item, m.item]);
  }
  for (const m of o.bidiMethods)
    refs.push([`methods.${m.name}.request`, m.request], [`methods.${m.name}.response`, m.response]);
  for (const s of o.subscriptions) refs.push([`subscriptions.${s.topic}.schema`, s.schema]);
  for (const [topic, id] of o.emits) refs.push([`emits.${topic}`, id]);
  for (const [option, id] of refs) {
    if (typeof id === 'string' && !infra.schemas.has(id)) {
      throw new SchemaNotFoundError(
        `${option} names schema ${JSON.stringify(id)}, which ${infra.config.schemas.kind === 'none' ? 'cannot exist: no schemas are configured (SWITCHYARD_SCHEMAS)' : 'is not loaded'}`,
        { details: { option, id } },
      );
    }
  }
}

/** The record this instance registers (docs/registry.md). */
export function instanceRecord(o: ResolvedServiceOptions, service: string, version: string, id: string) {
  const methods: Record<string, MethodInfo> = {};
  for (const m of o.methods) {
    methods[m.name] = {
      ...(m.request === undefined ? {} : { request: m.request }),
      ...(m.response === undefined ? {} : { response: m.response }),
      idempotent: m.idempotent,
    };
  }
  // A stream's item schema is its `response` in the record (docs/registry.md).
  for (const m of o.streams) {
    methods[m.name] = {
      ...(m.request === undefined ? {} : { request: m.request }),
      ...(m.item === undefined ? {} : { response: m.item }),
      idempotent: m.idempotent,
      streaming: true,
    };
  }
  // Bidi and client streams: `request` is each caller item's schema, `response` each server item's or the reply's.
  for (const m of o.bidiMethods) {
    methods[m.name] = {
      ...(m.request === undefined ? {} : { request: m.request }),
      ...(m.response === undefined ? {} : { response: m.response }),
      idempotent: m.idempotent,
      kind: m.kind,
    };
  }
  // The metadata copies of the event schema ids predate `events.schemas`: kept for readers written before it.
  const metadata: Record<string, string> = { lang: 'typescript', ...o.metadata };
  const schemas: Record<string, string> = {};
  for (const [topic, id] of o.emits) {
    if (id === null) continue;
    metadata[`emits.${topic}`] = id;
    schemas[topic] = id;
  }
  for (const s of o.subscriptions) if (s.schema !== undefined) metadata[`subscribes.${s.topic}`] = s.schema;
  return {
    service,
    version,
    id,
    methods,
    events: {
      emits: [...o.emits.keys()],
      subscribes: o.subscriptions.map((s) => s.topic),
      schemas,
      subscriptions: o.subscriptions.map((s) => ({
        topic: s.topic,
        group: s.group,
        ...(s.schema === undefined ? {} : { schema: s.schema }),
      })),
    },
    metadata,
    ...(o.address ? { address: o.address } : {}),
  };
}
