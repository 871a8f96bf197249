/**
 * @switchyard/auth: the `switchyard auth` service (accounts, OAuth 2.0 token endpoint,
 * JWKS, signing-key rotation) and the development CA. Services never import this
 * package: they verify tokens with the SDK's verifier against the published JWKS.
 */
export {};
