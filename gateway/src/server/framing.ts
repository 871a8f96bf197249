import type { IncomingMessage } from 'node:http';

/**
 * Request framing checks on top of node's parser (llhttp), which already refuses
 * Content-Length together with Transfer-Encoding, duplicate or malformed Content-Length,
 * obs-fold, spaces before the colon, bare LF and bad chunk sizes (raw-socket tests in
 * tests/integration/gateway-smuggling.test.ts prove each one). What it lets through, and
 * what an upstream parser might read differently, is refused here:
 *
 * - Transfer-Encoding other than exactly `chunked` (`identity, chunked`, `gzip, chunked`):
 *   the gateway forwards bodies de-chunked, and an upstream could frame them otherwise;
 * - Transfer-Encoding on an HTTP/1.0 request (RFC 9112 §6.1: the framing is faulty);
 * - no Host header in HTTP/1.1, or more than one (RFC 9112 §3.2: 400). Node's own check is
 *   turned off (`requireHostHeader: false`) so that this refusal has the JSON body too;
 * - a request line without an HTTP version (`GET /x` then CRLF): llhttp reads it as
 *   HTTP/0.9 and still parses the lines after it as headers, so an upstream that stops at
 *   the request line would see other requests in them. HTTP/0.9 has no headers at all.
 *
 * Returns what is wrong, or undefined. Costs one pass over `rawHeaders` comparing name
 * lengths: no allocation.
 */
export function framingProblem(req: IncomingMessage): string | undefined {
  if (req.httpVersionMajor === 0) return 'the request line has no HTTP version (HTTP/0.9 is not accepted)';
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) {
    if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1) {
      return 'Transfer-Encoding is not allowed in HTTP/1.0';
    }
    if (te.trim().toLowerCase() !== 'chunked') return 'Transfer-Encoding must be exactly "chunked"';
  }
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) return 'more than one Host header';
  }
  if (hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) return 'HTTP/1.1 needs a Host header';
  return undefined;
}

/** The request has a body to read: a declared length above zero, or chunked. */
export function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}
