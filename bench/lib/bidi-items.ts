/**
 * The bidi suite's service (docs/protocol.md §9), the same for the raw and our servers:
 * `upload` reads every caller item and answers once with their count at the end (the
 * client-streaming shape, as a bidi stream so both directions go through `bidi()`);
 * `download` reads one `{ count }` item and streams that many items back. Items are the
 * stream suite's ~120-byte JSON objects; the schemas are what "ours" checks each item against.
 * `ingest` (SDK server only, for the gateway variant) is `upload` for a WebSocket client,
 * which cannot half-close and still read the answer: its first item says how many follow,
 * and it answers once it has read them all.
 */
export {
  STREAM_ITEM_SCHEMA as BIDI_ITEM_SCHEMA,
  STREAM_REQUEST_SCHEMA as BIDI_COUNT_SCHEMA,
  streamItem as bidiItem,
} from './stream-items.js';

export const BIDI_SERVICE = 'bench-bidi';
export const UPLOAD_METHOD = 'upload';
export const DOWNLOAD_METHOD = 'download';
export const INGEST_METHOD = 'ingest';

/** The one item of `download`'s input and of `upload`'s output. */
export interface BidiCount {
  count: number;
}
