/** node's codes for a server certificate that does not verify against the trusted CAs or the host name. */
const VERIFY_FAILURES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Whether a connect failed because one side refused the other's certificate: ours did not
 * verify theirs, or the server sent a TLS alert (no client certificate, unknown CA, ...).
 * Retrying cannot fix that until someone changes a certificate, so `start()` reports it at
 * once instead of retrying until its timeout.
 */
export function isTlsRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return VERIFY_FAILURES.has(code) || (code.startsWith('ERR_SSL_') && code.includes('_ALERT_'));
}

/** One line saying which side refused and why, without OpenSSL's source locations. */
export function describeTlsRefusal(server: string, err: Error): string {
  const code = String((err as { code?: unknown }).code);
  if (VERIFY_FAILURES.has(code)) {
    return `${server}'s certificate was refused (${code}: ${err.message}): check the CA this client trusts and the server name it expects`;
  }
  // "...:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/...": keep the alert.
  const alert = /alert ([a-z ]+)/i.exec(err.message)?.[1]?.trim() ?? err.message;
  return `${server} refused the TLS handshake (${code}: ${alert}): check the client certificate it expects and the CA that signed it`;
}
