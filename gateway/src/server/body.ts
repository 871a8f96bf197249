import type { IncomingMessage } from 'node:http';
import { CancelledError } from '@switchyard/broker';
import { bodyTooLarge, invalidJson } from './edge-errors.js';

const EMPTY = Buffer.alloc(0);

/**
 * Read a request body into memory, refusing it (413) as soon as it grows past `limit`
 * bytes — whatever Content-Length said, and for chunked bodies, which announce no length.
 * Used only where the body must be seen whole (schema validation, the RPC bridge, chunked
 * bodies); everything else streams to the upstream untouched. Rejects with CANCELLED when
 * the client goes away mid-body.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (req.complete && req.readableLength === 0 && req.readableEnded) return Promise.resolve(EMPTY);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        req.pause();
        reject(bodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onGone = () => {
      done();
      reject(new CancelledError('the client closed the connection before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}

/** The JSON value of a body; an empty body is `{}` (a call without arguments). 400 INVALID_ARGUMENT otherwise. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  const text = body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidJson((err as Error).message);
  }
}
