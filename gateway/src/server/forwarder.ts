import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ForwardRequest } from '../upstream/index.js';

/** One request handed to the upstream layer after the pipeline let it through (declared there, once). */
export type { ForwardRequest };

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
