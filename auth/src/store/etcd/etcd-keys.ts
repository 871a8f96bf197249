/** The auth service's etcd layout under a namespace (docs/auth.md, "The auth service"). */
export function authPrefix(namespace: string): string {
  return `/${namespace}/auth/`;
}
export const accountKey = (ns: string, id: string): string => `/${ns}/auth/accounts/${id}`;
export const accountsPrefix = (ns: string): string => `/${ns}/auth/accounts/`;
export const refreshKey = (ns: string, hash: string): string => `/${ns}/auth/refresh/${hash}`;
export const refreshPrefix = (ns: string): string => `/${ns}/auth/refresh/`;
export const familyKey = (ns: string, family: string): string => `/${ns}/auth/revoked-families/${family}`;
export const signingKeyKey = (ns: string, kid: string): string => `/${ns}/auth/keys/${kid}`;
export const signingKeysPrefix = (ns: string): string => `/${ns}/auth/keys/`;
