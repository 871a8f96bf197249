import type { MethodInfo, ServiceInstance } from '../registry/instance-record.js';

/** What the instances of one service declare together: instances of one service may differ by version. */
export interface ServiceView {
  readonly name: string;
  /** Emitted topic → its schema id (undefined: none declared). */
  readonly emits: ReadonlyMap<string, string | undefined>;
  readonly subscriptions: readonly SubscriptionView[];
  readonly methods: ReadonlyMap<string, MethodInfo>;
}

export interface SubscriptionView {
  readonly pattern: string;
  /** Undefined when only records older than `events.subscriptions` declare it. */
  readonly group: string | undefined;
  readonly schema: string | undefined;
}

export const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The services of `instances`, sorted by name, each with everything any of its instances
 * declares (by instance id, the first one to declare a schema wins). Records written
 * before `events.schemas`/`events.subscriptions` still count: their schema ids come from
 * the metadata entries `emits.<topic>` and `subscribes.<pattern>` the SDK wrote then,
 * and their subscriptions have no known group.
 */
export function servicesOf(instances: readonly ServiceInstance[]): ServiceView[] {
  const sorted = [...instances].sort((a, b) => byText(a.service, b.service) || byText(a.id, b.id));
  const out = new Map<string, Mutable>();
  for (const inst of sorted) {
    let s = out.get(inst.service);
    if (s === undefined) {
      s = { name: inst.service, emits: new Map(), subscriptions: new Map(), methods: new Map() };
      out.set(inst.service, s);
    }
    for (const topic of inst.events.emits) {
      const id = inst.events.schemas?.[topic] ?? inst.metadata[`emits.${topic}`];
      if (s.emits.get(topic) === undefined) s.emits.set(topic, id);
    }
    const declared = inst.events.subscriptions;
    if (declared !== undefined) {
      for (const sub of declared) add(s.subscriptions, sub.topic, sub.group, sub.schema);
    } else {
      for (const pattern of inst.events.subscribes) {
        add(s.subscriptions, pattern, undefined, inst.metadata[`subscribes.${pattern}`]);
      }
    }
    for (const [name, info] of Object.entries(inst.methods)) if (!s.methods.has(name)) s.methods.set(name, info);
  }
  return [...out.values()].map((s) => {
    const subs = [...s.subscriptions.values()];
    return {
      name: s.name,
      emits: new Map([...s.emits].sort(([a], [b]) => byText(a, b))),
      // A group-less entry (an old record) says nothing a grouped one of the same pattern does not.
      subscriptions: subs
        .filter((x) => x.group !== undefined || !subs.some((y) => y.pattern === x.pattern && y.group !== undefined))
        .sort((a, b) => byText(a.pattern, b.pattern) || byText(a.group ?? '', b.group ?? '')),
      methods: new Map([...s.methods].sort(([a], [b]) => byText(a, b))),
    };
  });
}

interface Mutable {
  name: string;
  emits: Map<string, string | undefined>;
  subscriptions: Map<string, SubscriptionView>;
  methods: Map<string, MethodInfo>;
}

function add(
  subs: Map<string, SubscriptionView>,
  pattern: string,
  group: string | undefined,
  schema: string | undefined,
): void {
  const key = `${group ?? ''}\u0000${pattern}`;
  const had = subs.get(key);
  if (had === undefined || (had.schema === undefined && schema !== undefined))
    subs.set(key, { pattern, group, schema });
}

/** Whether a subscription pattern has AMQP wildcards (`*` one word, `#` any). */
export function isWildcard(pattern: string): boolean {
  return pattern.split('.').some((w) => w === '*' || w === '#');
}
