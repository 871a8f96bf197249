/**
 * What travels on the in-memory bus. Like AMQP messages, they carry encoded bodies, never
 * live objects: a receiver always decodes its own copy, so publisher and handler share no
 * references and the same payload rules apply as on the wire.
 */
import type { Frame } from '../bidi/frames.js';
import type { BidiKind, Headers } from '../transport.js';

export interface EventMessage {
  readonly id: string;
  readonly topic: string;
  readonly body: Buffer;
  readonly contentType: string;
  /** Includes `x-source` and, after a failure, `x-attempt`. */
  readonly headers: Readonly<Headers>;
  readonly timestamp: number | undefined;
  /** Handed to a consumer before that never settled it (e.g. a close that timed out). */
  readonly redelivered: boolean;
  /** Deliveries that ended without a settle, for the quorum delivery limit. */
  readonly deliveryCount: number;
}

/** A dead-lettered copy, as kept in a `.dlq` queue. */
export interface MemoryDeadLetter {
  readonly id: string;
  readonly topic: string;
  readonly body: Buffer;
  readonly contentType: string;
  /** The original headers plus `x-death-reason`, `x-error-code`, `x-error-message`, `x-attempt`, ... */
  readonly headers: Readonly<Headers>;
  readonly timestamp: number | undefined;
}

/** Where the server sends replies of one call; `deliver` is false once the caller is gone (AMQP's basic.return). */
export interface ReplyPort {
  deliver(reply: RpcReply): boolean;
  /** False once the caller gave up (deadline, abort, close): the request is not worth running. */
  waiting(): boolean;
}

/** The server side of a stream's flow control: the caller grants credit or cancels. */
export interface ControlPort {
  credit(n: number): void;
  cancel(): void;
}

export type RpcReply =
  | { readonly status: 'ok'; readonly body: Buffer; readonly contentType: string }
  /** Body: JSON ErrorBody (docs/protocol.md §6). */
  | { readonly status: 'error'; readonly body: Buffer }
  | {
      readonly status: 'item';
      readonly seq: number;
      readonly body: Buffer;
      readonly contentType: string;
      readonly control: ControlPort;
    }
  | { readonly status: 'end' }
  /** A bidi stream's frame (docs/protocol.md §9); `peer` takes the caller's frames back. */
  | { readonly status: 'frame'; readonly frame: Frame; readonly peer: BidiPeer };

/** Where a bidi caller's frames go: the server's session. */
export interface BidiPeer {
  deliver(frame: Frame): void;
}

export interface RpcRequest {
  /** Correlation id. */
  readonly id: string;
  readonly service: string;
  readonly method: string;
  readonly body: Buffer;
  readonly contentType: string;
  /** Includes `x-method`, `x-deadline` and, for streams, `x-stream-window`. */
  readonly headers: Readonly<Headers>;
  readonly deadline: number | undefined;
  /** Set for server-streaming calls: items the caller buffers before the server waits for credit. */
  readonly window: number | undefined;
  readonly redelivered: boolean;
  readonly replyTo: ReplyPort;
  /** Set for bidi and client-streaming calls (the request has no body then). */
  readonly bidi?: { readonly kind: BidiKind; readonly version: string; readonly heartbeatMs: number };
}
