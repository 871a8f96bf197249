/**
 * The messages of a bidi or client-streaming call (docs/protocol.md §9), independent of
 * the wire. The caller and server state machines (bidi-call.ts, bidi-session.ts) speak
 * only frames; each transport maps them to its own messages (AMQP: bidi-wire.ts, headers
 * on the other side's reply address; memory: handed over as they are), so both
 * transports share one implementation of the protocol's rules.
 */
import type { SwitchyardError } from '../errors.js';

export type Frame =
  /** Server → caller, first: the server took the call and grants `credit` items. */
  | { readonly t: 'open'; readonly credit: number }
  | { readonly t: 'item'; readonly seq: number; readonly body: Buffer; readonly contentType: string }
  | { readonly t: 'credit'; readonly n: number }
  /** Half-close: no more items from the sender. From the server it ends the call. */
  | { readonly t: 'end' }
  | { readonly t: 'ping' }
  /** Caller → server. */
  | { readonly t: 'cancel' }
  /** Server → caller: the one reply of a client-streaming call. */
  | { readonly t: 'ok'; readonly body: Buffer; readonly contentType: string }
  /** Server → caller: the call failed. */
  | { readonly t: 'error'; readonly error: SwitchyardError };

/** The version of §9 this code speaks (header `x-stream-version`). */
export const BIDI_VERSION = '1';
export const DEFAULT_BIDI_WINDOW = 16;
export const MAX_BIDI_WINDOW = 10_000;
export const DEFAULT_HEARTBEAT_MS = 10_000;
export const MIN_HEARTBEAT_MS = 100;
/** Sends waiting for credit at most; beyond, send() rejects BUFFER_FULL (callers must await send()). */
export const MAX_QUEUED_SENDS = 1_000;

export const PING: Frame = Object.freeze({ t: 'ping' });
export const END: Frame = Object.freeze({ t: 'end' });
export const CANCEL: Frame = Object.freeze({ t: 'cancel' });

/** Credit is granted back in batches of half the window, so control traffic stays small. */
export function creditBatch(window: number): number {
  return Math.max(1, Math.floor(window / 2));
}
