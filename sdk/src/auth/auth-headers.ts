/** Headers of service identity on every RPC request and event (docs/protocol.md §7). */
export const AUTH_HEADER = Object.freeze({
  /** The sending service's own access token (a JWT from the auth service). Required when auth is on. */
  serviceToken: 'x-switchyard-token',
  /** The end user's access token the call is made for (forwarded by the gateway, passed on by every hop). */
  userToken: 'x-switchyard-user-token',
});
