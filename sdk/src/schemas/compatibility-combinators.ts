import { canonicalJson } from './canonical-json.js';
import { type CompareSub, type Obj, obj, type Recursion, type Report, typeList } from './compatibility-keywords.js';
import { childNode, conjuncts, type SchemaNode } from './schema-walk.js';

/** anyOf, oneOf (with discriminators), not and if/then/else of one schema pair. */
export function compareCombinators(
  r: Recursion,
  o: SchemaNode,
  n: SchemaNode,
  O: Obj,
  N: Obj,
  path: string,
  br: Report,
  sub: CompareSub,
): void {
  const branches = (side: SchemaNode, value: unknown) =>
    Array.isArray(value) ? value.map((s) => childNode(side, s)) : [];
  const covered = (old: SchemaNode, news: SchemaNode[]) => news.some((nb) => r.compare(old, nb, '').length === 0);
  // Old payloads each match some old branch (or the whole old schema when it had none).
  const oldAlternatives = (): SchemaNode[] =>
    Array.isArray(O.anyOf) ? branches(o, O.anyOf) : Array.isArray(O.oneOf) ? branches(o, O.oneOf) : [o];

  if (Array.isArray(N.anyOf)) {
    const news = branches(n, N.anyOf);
    if (!Array.isArray(O.anyOf) && !Array.isArray(O.oneOf)) {
      if (!covered(o, news)) {
        br(`${path}/anyOf`, 'anyOf added; cannot prove that every old payload matches one of its branches');
      }
    } else {
      oldAlternatives().forEach((ob, i) => {
        if (!covered(ob, news)) {
          br(
            `${path}/anyOf`,
            `anyOf narrowed: old branch ${i} is not covered by any new branch; cannot prove the change compatible`,
          );
        }
      });
    }
  }

  if (Array.isArray(N.oneOf)) {
    const news = branches(n, N.oneOf);
    const olds = Array.isArray(O.oneOf) ? branches(o, O.oneOf) : undefined;
    const same = olds !== undefined && olds.length === news.length && olds.every((ob, i) => r.equivalent(ob, news[i]!));
    if (!same) {
      const apart = disjoint(news);
      const uncovered = apart ? oldAlternatives().filter((ob) => !covered(ob, news)) : [];
      if (!apart || uncovered.length > 0) {
        br(
          `${path}/oneOf`,
          apart
            ? 'oneOf narrowed: some old payloads match none of the new branches'
            : 'oneOf changed; cannot prove that every old payload still matches exactly one branch',
        );
      }
    }
  }

  if (N.not !== undefined) {
    // Valid now means "not N.not"; safe when everything N.not matches, O.not matched too.
    const safe =
      O.not !== undefined && r.strictly(() => r.compare(childNode(n, N.not), childNode(o, O.not), '').length === 0);
    if (!safe) {
      br(
        `${path}/not`,
        O.not === undefined
          ? 'not added; cannot prove that no old payload matches it'
          : 'not changed; cannot prove the change compatible',
      );
    }
  }

  if (N.if !== undefined && (N.then !== undefined || N.else !== undefined)) {
    if (O.if !== undefined && r.equivalent(childNode(o, O.if), childNode(n, N.if))) {
      if (N.then !== undefined) sub(O.then ?? true, N.then, `${path}/then`);
      if (N.else !== undefined) sub(O.else ?? true, N.else, `${path}/else`);
    } else {
      br(
        `${path}/if`,
        O.if === undefined
          ? 'if/then/else added; cannot prove the change compatible'
          : 'if changed; cannot prove the change compatible',
      );
    }
  }
}

/**
 * Branches no value can match two of at once: each is an object with a required
 * property whose `const`/`enum` values no other branch shares (a discriminator).
 */
function disjoint(branches: SchemaNode[]): boolean {
  if (branches.length < 2) return true;
  const infos = branches.map((b) => discriminatorInfo(b));
  if (infos.some((i) => !i.object)) return false;
  const candidates = [...infos[0]!.values.keys()].filter((name) => infos.every((i) => i.values.has(name)));
  return candidates.some((name) => {
    const seen = new Set<string>();
    for (const info of infos) {
      for (const v of info.values.get(name)!) {
        if (seen.has(v)) return false;
      }
      for (const v of info.values.get(name)!) seen.add(v);
    }
    return true;
  });
}

/** For one oneOf branch: is it object-only, and which required properties pin a value set. */
function discriminatorInfo(branch: SchemaNode): { object: boolean; values: Map<string, string[]> } {
  let object = false;
  const required = new Set<string>();
  const pinned = new Map<string, string[]>();
  for (const c of conjuncts(branch, '')) {
    if ('unresolved' in c || typeof c.node.schema === 'boolean') continue;
    const s = c.node.schema;
    if (typeList(s.type).length > 0 && typeList(s.type).every((t) => t === 'object')) object = true;
    for (const r of Array.isArray(s.required) ? s.required : []) required.add(String(r));
    for (const [name, propSchema] of Object.entries(obj(s.properties))) {
      for (const pc of conjuncts(childNode(c.node, propSchema), '')) {
        if ('unresolved' in pc || typeof pc.node.schema === 'boolean') continue;
        const ps = pc.node.schema;
        const values = ps.const !== undefined ? [ps.const] : Array.isArray(ps.enum) ? ps.enum : undefined;
        if (values) pinned.set(name, values.map(canonicalJson));
      }
    }
  }
  for (const name of [...pinned.keys()]) if (!required.has(name)) pinned.delete(name);
  return { object, values: pinned };
}
