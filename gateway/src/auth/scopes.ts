// RFC 6749 §3.3 scope-token: printable ASCII without space, '"' and '\'.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

export function isScopeToken(value: unknown): value is string {
  return typeof value === 'string' && SCOPE_TOKEN.test(value);
}

function addAll(out: Set<string>, value: unknown): void {
  if (typeof value === 'string') {
    for (const s of value.split(' ')) if (isScopeToken(s)) out.add(s);
  } else if (Array.isArray(value)) {
    for (const s of value) if (isScopeToken(s)) out.add(s);
  }
}

/**
 * The scopes a token grants: `scope` (RFC 8693/9068: space-separated string) and `scp`
 * (array, or a space-separated string as some issuers send it), merged. Values that are
 * not valid scope tokens are ignored: they could not be forwarded in a header safely,
 * and ignoring a scope only ever grants less.
 */
export function scopesFromClaims(claims: { readonly [claim: string]: unknown }): readonly string[] {
  const out = new Set<string>();
  addAll(out, claims.scope);
  addAll(out, claims.scp);
  return Object.freeze([...out]);
}

/** The scopes in `required` that `granted` lacks. */
export function missingScopes(granted: readonly string[], required: readonly string[]): string[] {
  return required.filter((s) => !granted.includes(s));
}
