import type { IncomingMessage, ServerResponse } from 'node:http';
import { OAuthError } from '../oauth/oauth-error.js';

/** Read a request body up to `limit` bytes; larger is an OAuthError with status 413. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new OAuthError('invalid_request', `the body is larger than ${limit} bytes`, false, 413));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new OAuthError('invalid_request', `the body is larger than ${limit} bytes`, false, 413));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Token responses and errors must not be cached (RFC 6749 §5.1). */
export const NO_STORE = Object.freeze({ 'cache-control': 'no-store', pragma: 'no-cache' });

export function sendOAuthError(res: ServerResponse, err: OAuthError, realm: string): void {
  const headers: Record<string, string> = { ...NO_STORE };
  if (err.status === 401 && err.basic) headers['www-authenticate'] = `Basic realm="${realm}"`;
  sendJson(res, err.status, err.body(), headers);
}
