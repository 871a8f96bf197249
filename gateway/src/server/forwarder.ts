import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CompiledRoute } from '../routing/route-compiler.js';

/** One request handed to the upstream layer after the pipeline let it through. */
export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  route: CompiledRoute;
  /** The upstream path (route's strip/rewrite applied), without the query. */
  upstreamPath: string;
  /** The query string, untouched ('' when none). */
  query: string;
  requestId: string;
  clientIp: string;
  /** The body, when the pipeline had to read it (validation, chunked); else the request streams. */
  body?: Buffer | undefined;
  /** Response headers the gateway decided (flat name/value list): written with whatever answer the request gets. */
  responseHeaders?: readonly string[];
}

/**
 * What the pipeline needs of the upstream layer (`UpstreamPool` fits): `forward` writes
 * the response itself and never rejects; `upgrade` takes over the socket.
 */
export interface Forwarder {
  forward(f: ForwardRequest): Promise<void>;
  upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    f: Omit<ForwardRequest, 'res' | 'body' | 'responseHeaders'>,
  ): void;
}
