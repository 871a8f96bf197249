import { randomUUID } from 'node:crypto';
import { type Violation, validationError } from '@switchyard/broker';

/**
 * The registry record of one running instance: the language-neutral JSON stored as the
 * value of `/<ns>/services/<service>/<id>` (documented in docs/registry.md). Records are
 * deep-frozen once parsed because views hand the same objects to every reader.
 */
export interface ServiceInstance {
  readonly id: string;
  readonly service: string;
  readonly version: string;
  readonly address?: { readonly http?: string };
  readonly methods: Readonly<Record<string, MethodInfo>>;
  readonly events: InstanceEvents;
  readonly metadata: Readonly<Record<string, string>>;
  /** ISO 8601 timestamp. */
  readonly startedAt: string;
}

export interface MethodInfo {
  /** Schema id of the request payload. */
  readonly request?: string;
  /** Schema id of the response payload. */
  readonly response?: string;
  readonly idempotent?: boolean;
  readonly streaming?: boolean;
  /**
   * `bidi` or `client` for bidirectional and client-streaming methods (docs/protocol.md §9):
   * `request` is then the schema of each caller item and `response` that of each server item
   * (or of the one reply). Absent: unary, or server-streaming when `streaming` is true.
   */
  readonly kind?: 'bidi' | 'client';
}

/**
 * `schemas` and `subscriptions` came later than `emits`/`subscribes` (for the AsyncAPI
 * document): they are absent from older records, so readers must treat them as unknown,
 * not as empty.
 */
export interface InstanceEvents {
  /** Topics this instance publishes. */
  readonly emits: readonly string[];
  /** Topic patterns it consumes. */
  readonly subscribes: readonly string[];
  /** Schema `$id` of the events of each emitted topic that has one. */
  readonly schemas?: Readonly<Record<string, string>>;
  /** Each subscription: its pattern, its group (the queue it shares) and the schema it checks events against. */
  readonly subscriptions?: readonly SubscriptionInfo[];
}

export interface SubscriptionInfo {
  readonly topic: string;
  readonly group: string;
  readonly schema?: string;
}

/** What `register()` takes: a record whose `id`, `startedAt` and collections may be left out. */
export interface RegisterInput {
  service: string;
  version: string;
  /** Default: a random UUID. */
  id?: string;
  address?: { http?: string };
  methods?: Record<string, MethodInfo>;
  events?: {
    emits?: readonly string[];
    subscribes?: readonly string[];
    schemas?: Readonly<Record<string, string>>;
    subscriptions?: readonly SubscriptionInfo[];
  };
  metadata?: Record<string, string>;
  /** Default: now. */
  startedAt?: string;
}

/** Service names and ids become etcd key segments (and queue names): no `/`, no spaces. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export type InstanceCheck = { ok: true; instance: ServiceInstance } | { ok: false; violations: Violation[] };

/**
 * Validate a decoded record without throwing. Unknown fields are dropped (records may
 * come from newer writers); missing `methods`/`events`/`metadata` count as empty.
 */
export function checkServiceInstance(value: unknown): InstanceCheck {
  const v: Violation[] = [];
  if (!isObject(value)) return { ok: false, violations: [{ pointer: '', message: 'must be an object' }] };
  const id = text(value.id, '/id', v, INSTANCE_ID_PATTERN);
  const service = text(value.service, '/service', v, SERVICE_NAME_PATTERN);
  const version = text(value.version, '/version', v);
  const startedAt = text(value.startedAt, '/startedAt', v, ISO_TIME);
  if (startedAt !== undefined && Number.isNaN(Date.parse(startedAt))) {
    v.push({ pointer: '/startedAt', message: 'must be a valid ISO 8601 time' });
  }
  const address = parseAddress(value.address, v);
  const methods = parseMethods(value.methods, v);
  const events = parseEvents(value.events, v);
  const metadata = parseMetadata(value.metadata, v);
  if (v.length > 0) return { ok: false, violations: v };
  const instance: ServiceInstance = {
    id: id!,
    service: service!,
    version: version!,
    ...(address ? { address } : {}),
    methods,
    events,
    metadata,
    startedAt: startedAt!,
  };
  return { ok: true, instance: deepFreeze(instance) };
}

/** Validate a decoded record; throws INVALID_ARGUMENT listing every violation. */
export function parseServiceInstance(value: unknown): ServiceInstance {
  const r = checkServiceInstance(value);
  if (!r.ok) throw validationError('service instance', r.violations);
  return r.instance;
}

/** The full record for a registration: defaults filled in, then validated (throws INVALID_ARGUMENT). */
export function buildServiceInstance(input: RegisterInput): ServiceInstance {
  if (!isObject(input)) throw validationError('service instance', [{ pointer: '', message: 'must be an object' }]);
  return parseServiceInstance({
    ...input,
    id: input.id ?? randomUUID(),
    methods: input.methods ?? {},
    events: { ...input.events, emits: input.events?.emits ?? [], subscribes: input.events?.subscribes ?? [] },
    metadata: input.metadata ?? {},
    startedAt: input.startedAt ?? new Date().toISOString(),
  });
}

/** Throws INVALID_ARGUMENT unless `service` is a valid service name. */
export function assertServiceName(service: string): void {
  if (typeof service !== 'string' || !SERVICE_NAME_PATTERN.test(service)) {
    throw validationError('service name', [{ pointer: '', message: `must match ${SERVICE_NAME_PATTERN.source}` }]);
  }
}

/** The exact JSON written to the store. */
export function encodeServiceInstance(instance: ServiceInstance): string {
  return JSON.stringify(instance);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function text(x: unknown, pointer: string, v: Violation[], pattern?: RegExp): string | undefined {
  if (typeof x !== 'string' || x.length === 0) {
    v.push({ pointer, message: 'must be a non-empty string' });
    return undefined;
  }
  if (pattern && !pattern.test(x)) {
    v.push({ pointer, message: `must match ${pattern.source}` });
    return undefined;
  }
  return x;
}

function parseAddress(x: unknown, v: Violation[]): { http?: string } | undefined {
  if (x === undefined) return undefined;
  if (!isObject(x)) {
    v.push({ pointer: '/address', message: 'must be an object' });
    return undefined;
  }
  if (x.http === undefined) return {};
  if (typeof x.http !== 'string' || !isHttpUrl(x.http)) {
    v.push({ pointer: '/address/http', message: 'must be an http(s) URL such as "http://host:port"' });
    return undefined;
  }
  return { http: x.http };
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

function parseMethods(x: unknown, v: Violation[]): Record<string, MethodInfo> {
  // Entries + fromEntries, not assignment: a key named "__proto__" must stay a plain key.
  const out: [string, MethodInfo][] = [];
  if (x === undefined) return {};
  if (!isObject(x)) {
    v.push({ pointer: '/methods', message: 'must be an object' });
    return {};
  }
  for (const [name, m] of Object.entries(x)) {
    const p = `/methods/${escapePointer(name)}`;
    if (!isObject(m)) {
      v.push({ pointer: p, message: 'must be an object' });
      continue;
    }
    const info: { -readonly [K in keyof MethodInfo]: MethodInfo[K] } = {};
    for (const key of ['request', 'response'] as const) {
      if (m[key] === undefined) continue;
      if (typeof m[key] === 'string' && m[key] !== '') info[key] = m[key];
      else v.push({ pointer: `${p}/${key}`, message: 'must be a non-empty string (a schema id)' });
    }
    for (const key of ['idempotent', 'streaming'] as const) {
      if (m[key] === undefined) continue;
      if (typeof m[key] === 'boolean') info[key] = m[key];
      else v.push({ pointer: `${p}/${key}`, message: 'must be a boolean' });
    }
    if (m.kind !== undefined) {
      if (m.kind === 'bidi' || m.kind === 'client') info.kind = m.kind;
      else v.push({ pointer: `${p}/kind`, message: 'must be "bidi" or "client"' });
    }
    out.push([name, info]);
  }
  return Object.fromEntries(out);
}

function parseEvents(x: unknown, v: Violation[]): ServiceInstance['events'] {
  if (x === undefined) return { emits: [], subscribes: [] };
  if (!isObject(x)) {
    v.push({ pointer: '/events', message: 'must be an object' });
    return { emits: [], subscribes: [] };
  }
  const schemas = parseEventSchemas(x.schemas, v);
  const subscriptions = parseSubscriptions(x.subscriptions, v);
  return {
    emits: stringList(x.emits, '/events/emits', v),
    subscribes: stringList(x.subscribes, '/events/subscribes', v),
    ...(schemas === undefined ? {} : { schemas }),
    ...(subscriptions === undefined ? {} : { subscriptions }),
  };
}

function parseEventSchemas(x: unknown, v: Violation[]): Record<string, string> | undefined {
  if (x === undefined) return undefined;
  if (!isObject(x)) {
    v.push({ pointer: '/events/schemas', message: 'must be an object of schema ids by topic' });
    return undefined;
  }
  const out: [string, string][] = [];
  for (const [topic, id] of Object.entries(x)) {
    if (typeof id === 'string' && id !== '') out.push([topic, id]);
    else
      v.push({
        pointer: `/events/schemas/${escapePointer(topic)}`,
        message: 'must be a non-empty string (a schema id)',
      });
  }
  return Object.fromEntries(out);
}

function parseSubscriptions(x: unknown, v: Violation[]): SubscriptionInfo[] | undefined {
  if (x === undefined) return undefined;
  if (!Array.isArray(x)) {
    v.push({ pointer: '/events/subscriptions', message: 'must be an array' });
    return undefined;
  }
  const out: SubscriptionInfo[] = [];
  x.forEach((s, i) => {
    const p = `/events/subscriptions/${i}`;
    if (!isObject(s)) {
      v.push({ pointer: p, message: 'must be an object' });
      return;
    }
    const topic = text(s.topic, `${p}/topic`, v);
    const group = text(s.group, `${p}/group`, v);
    const schema = s.schema === undefined ? undefined : text(s.schema, `${p}/schema`, v);
    if (topic !== undefined && group !== undefined) out.push({ topic, group, ...(schema ? { schema } : {}) });
  });
  return out;
}

function stringList(x: unknown, pointer: string, v: Violation[]): string[] {
  if (x === undefined) return [];
  if (!Array.isArray(x) || !x.every((s) => typeof s === 'string' && s !== '')) {
    v.push({ pointer, message: 'must be an array of non-empty strings' });
    return [];
  }
  return [...x];
}

function parseMetadata(x: unknown, v: Violation[]): Record<string, string> {
  if (x === undefined) return {};
  if (!isObject(x)) {
    v.push({ pointer: '/metadata', message: 'must be an object of strings' });
    return {};
  }
  const out: [string, string][] = [];
  for (const [k, val] of Object.entries(x)) {
    if (typeof val === 'string') out.push([k, val]);
    else v.push({ pointer: `/metadata/${escapePointer(k)}`, message: 'must be a string' });
  }
  return Object.fromEntries(out);
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    for (const child of Object.values(o)) deepFreeze(child);
    Object.freeze(o);
  }
  return o;
}
