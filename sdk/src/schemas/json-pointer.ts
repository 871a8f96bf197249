/** Escape one JSON pointer reference token (RFC 6901). */
export function escapePointerToken(token: string | number): string {
  return String(token).replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Append tokens to a JSON pointer. */
export function pointerJoin(base: string, ...tokens: Array<string | number>): string {
  return base + tokens.map((t) => `/${escapePointerToken(t)}`).join('');
}

/** The value at a JSON pointer (RFC 6901), or undefined. */
export function pointerGet(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  if (!pointer.startsWith('/')) return undefined;
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, token)) return undefined;
    cur = (cur as Record<string, unknown>)[token];
  }
  return cur;
}
