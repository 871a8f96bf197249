/**
 * Bidi frames as AMQP messages (docs/protocol.md §9): data and endings in `x-status`,
 * flow control in `x-control`, always to the other side's reply address through the
 * default exchange. Every frame carries our own direct reply-to address in `reply_to`, so
 * the first one (`open`) tells the caller where the server listens.
 */
import type { ConsumeMessage, Options } from 'amqplib';
import type { Frame } from '../bidi/frames.js';
import { BIDI_VERSION, CANCEL, END, PING } from '../bidi/frames.js';
import { InternalError } from '../errors.js';
import { CONTROL, H, headerInt, headerString, STATUS } from './headers.js';
import { decodeErrorReply } from './stream.js';
import { DIRECT_REPLY_TO } from './topology.js';

const EMPTY = Buffer.alloc(0);
const JSON_TYPE = 'application/json';

export interface WireMessage {
  readonly body: Buffer;
  readonly props: Options.Publish;
}

export function frameToMessage(frame: Frame, correlationId: string): WireMessage {
  const props: Options.Publish = { correlationId, replyTo: DIRECT_REPLY_TO };
  switch (frame.t) {
    case 'item':
      props.contentType = frame.contentType;
      props.headers = { [H.status]: STATUS.item, [H.seq]: String(frame.seq) };
      return { body: frame.body, props };
    case 'ok':
      props.contentType = frame.contentType;
      props.headers = { [H.status]: STATUS.ok };
      return { body: frame.body, props };
    case 'open':
      props.headers = { [H.status]: STATUS.open, [H.streamVersion]: BIDI_VERSION, [H.credit]: String(frame.credit) };
      return { body: EMPTY, props };
    case 'end':
      props.headers = { [H.status]: STATUS.end };
      return { body: EMPTY, props };
    case 'error':
      props.contentType = JSON_TYPE;
      props.headers = { [H.status]: STATUS.error };
      return { body: Buffer.from(JSON.stringify(frame.error.toJSON())), props };
    case 'credit':
      props.headers = { [H.control]: CONTROL.credit, [H.credit]: String(frame.n) };
      return { body: EMPTY, props };
    case 'ping':
      props.headers = { [H.control]: CONTROL.ping };
      return { body: EMPTY, props };
    case 'cancel':
      props.headers = { [H.control]: CONTROL.cancel };
      return { body: EMPTY, props };
  }
}

/** The frame a message holds; an error frame (INTERNAL) for one this version cannot read. */
export function messageToFrame(msg: ConsumeMessage): Frame {
  const raw = msg.properties.headers as Record<string, unknown> | undefined;
  const control = headerString(raw, H.control);
  if (control !== undefined) {
    if (control === CONTROL.credit) {
      const n = headerInt(raw, H.credit);
      return n !== undefined && n > 0 ? { t: 'credit', n } : PING; // a zero or bad grant grants nothing
    }
    if (control === CONTROL.ping) return PING;
    if (control === CONTROL.cancel) return CANCEL;
    return PING; // a later version's control message: it still proves the peer is alive
  }
  const status = headerString(raw, H.status);
  const contentType = (msg.properties.contentType as string | undefined) ?? JSON_TYPE;
  switch (status) {
    case STATUS.item: {
      const seq = headerInt(raw, H.seq);
      if (seq === undefined) return malformed('an item without x-seq');
      return { t: 'item', seq, body: msg.content, contentType };
    }
    case STATUS.open: {
      const credit = headerInt(raw, H.credit);
      if (credit === undefined || credit < 1) return malformed('an open without x-credit');
      return { t: 'open', credit };
    }
    case STATUS.end:
      return END;
    case STATUS.ok:
      return { t: 'ok', body: msg.content, contentType };
    case STATUS.error:
      return { t: 'error', error: decodeErrorReply(msg) };
    default:
      return malformed(`a message with x-status ${JSON.stringify(status)}`);
  }
}

function malformed(what: string): Frame {
  return { t: 'error', error: new InternalError(`the peer sent ${what}`) };
}
