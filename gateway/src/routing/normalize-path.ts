import { InvalidArgumentError, type SwitchyardError } from '@switchyard/broker';

/**
 * Request-path normalisation, done once before matching, so that the path the gateway
 * authorises is the path the upstream receives. Rules (docs/routes.md, "Normalisation"):
 *
 * - Percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are decoded, exactly once;
 *   every other percent-encoding is kept, with upper-case hex. `%25` stays `%25`, so
 *   `%252e%252e` can never turn into `..` here or at a second decoder.
 * - `.` and `..` segments (including `%2e` forms) are resolved; `..` never climbs above `/`.
 * - Empty segments (`//`) are collapsed. A trailing slash is kept.
 * - Rejected (400): encoded `/` or `\` (`%2F`, `%5C`), a raw `\`, control characters
 *   (raw or encoded, NUL included), raw non-ASCII, `#`, malformed `%` escapes,
 *   percent-encoded bytes that are not valid UTF-8 (overlong forms such as `%C0%AE`
 *   included), `.;`/`..;` segments (Tomcat-style path parameters on dot segments), and
 *   paths longer than the limit.
 * - A few characters RFC 3986 forbids raw but clients send anyway (`" < > [ ] ^ \` { | }`)
 *   are percent-encoded, so a route matches both spellings.
 *
 * The query is returned untouched.
 */

export const DEFAULT_MAX_PATH_LENGTH = 8192;

export type PathRejectionReason =
  | 'not-origin-form'
  | 'too-long'
  | 'encoded-slash'
  | 'backslash'
  | 'control-character'
  | 'invalid-character'
  | 'invalid-percent-encoding'
  | 'invalid-utf8'
  | 'dot-segment-parameter';

export interface NormalizedTarget {
  readonly ok: true;
  /** The normalised path: starts with `/`, no `.`/`..`/empty segments. */
  readonly path: string;
  /** Everything after the first `?`, untouched ('' when there is none). */
  readonly query: string;
}

export interface RejectedTarget {
  readonly ok: false;
  readonly reason: PathRejectionReason;
  readonly message: string;
}

export type NormalizeResult = NormalizedTarget | RejectedTarget;

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const HEX = '0123456789ABCDEF';

/**
 * Normalise a request target (`req.url`: origin-form path plus optional query).
 * Never throws; a rejection carries the reason, for a 400 (see `pathRejectedError`).
 */
export function normalizePath(target: string, maxLength: number = DEFAULT_MAX_PATH_LENGTH): NormalizeResult {
  const q = target.indexOf('?');
  const raw = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  if (raw.length === 0 || raw.charCodeAt(0) !== SLASH) {
    return reject('not-origin-form', 'the request path must start with "/"');
  }
  if (raw.length > maxLength) return reject('too-long', `the request path is longer than ${maxLength} characters`);
  // Fast path: most paths have nothing to decode, resolve or encode.
  let prev = SLASH;
  for (let i = 1; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (!PLAIN[c] || (prev === SLASH && (c === SLASH || c === DOT))) return slowPath(raw, query);
    prev = c;
  }
  return { ok: true, path: raw, query };
}

/** The 400 error for a rejected path (INVALID_ARGUMENT, `details.reason` says which rule). */
export function pathRejectedError(rejection: RejectedTarget): SwitchyardError {
  return new InvalidArgumentError(`invalid request path: ${rejection.message}`, {
    details: { reason: rejection.reason },
  });
}

function reject(reason: PathRejectionReason, message: string): RejectedTarget {
  return { ok: false, reason, message };
}

/** Characters that may appear raw and need no work: unreserved, sub-delims, ':', '@', '/'. */
const PLAIN = new Uint8Array(128);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/") {
  PLAIN[ch.charCodeAt(0)] = 1;
}
/** Raw characters RFC 3986 forbids in a path that clients send anyway: encoded, not rejected. */
const ENCODE = new Uint8Array(128);
for (const ch of '"<>[]^`{|}') ENCODE[ch.charCodeAt(0)] = 1;
/** Unreserved characters: decoded when percent-encoded. */
const UNRESERVED = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') {
  UNRESERVED[ch.charCodeAt(0)] = 1;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** The byte of the `%XX` escape at `i`, or -1 when there is no well-formed escape there. */
function escapedByte(raw: string, i: number): number {
  if (i + 2 >= raw.length) return -1;
  if (raw.charCodeAt(i) !== PERCENT) return -1;
  const hi = hexValue(raw.charCodeAt(i + 1));
  const lo = hexValue(raw.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

function encodeByte(b: number): string {
  return `%${HEX[b >> 4]}${HEX[b & 15]}`;
}

/** Continuation-byte range for the second byte of a UTF-8 sequence (RFC 3629 table 3-7). */
function secondByteRange(lead: number): [number, number, number] | undefined {
  // [min, max, continuation bytes]
  if (lead >= 0xc2 && lead <= 0xdf) return [0x80, 0xbf, 1];
  if (lead === 0xe0) return [0xa0, 0xbf, 2]; // no overlong 3-byte forms
  if ((lead >= 0xe1 && lead <= 0xec) || lead === 0xee || lead === 0xef) return [0x80, 0xbf, 2];
  if (lead === 0xed) return [0x80, 0x9f, 2]; // no UTF-16 surrogates
  if (lead === 0xf0) return [0x90, 0xbf, 3]; // no overlong 4-byte forms
  if (lead >= 0xf1 && lead <= 0xf3) return [0x80, 0xbf, 3];
  if (lead === 0xf4) return [0x80, 0x8f, 3]; // nothing above U+10FFFF
  return undefined; // 0x80-0xC1 (stray continuation, overlong 2-byte), 0xF5-0xFF
}

function slowPath(raw: string, query: string): NormalizeResult {
  const out: string[] = [];
  let trailingSlash = false;
  let i = 1;
  while (i <= raw.length) {
    let seg = '';
    for (; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c === SLASH) break;
      if (c === PERCENT) {
        const b = escapedByte(raw, i);
        if (b < 0) return reject('invalid-percent-encoding', 'a "%" is not followed by two hex digits');
        if (b === 0x2f || b === 0x5c) return reject('encoded-slash', 'encoded "/" or "\\" (%2F, %5C) is not allowed');
        if (b < 0x20 || b === 0x7f) return reject('control-character', 'encoded control characters are not allowed');
        if (b >= 0x80) {
          const range = secondByteRange(b);
          if (!range) return reject('invalid-utf8', 'percent-encoded bytes are not valid UTF-8');
          seg += encodeByte(b);
          for (let k = 0; k < range[2]; k++) {
            const cb = escapedByte(raw, i + 3);
            const [min, max] = k === 0 ? range : [0x80, 0xbf];
            if (cb < min || cb > max) return reject('invalid-utf8', 'percent-encoded bytes are not valid UTF-8');
            seg += encodeByte(cb);
            i += 3;
          }
        } else if (UNRESERVED[b]) {
          seg += String.fromCharCode(b);
        } else {
          seg += encodeByte(b);
        }
        i += 2;
        continue;
      }
      if (c === 0x5c) return reject('backslash', '"\\" is not allowed in a path');
      if (c < 0x20 || c === 0x7f) return reject('control-character', 'control characters are not allowed');
      if (c >= 0x80) return reject('invalid-character', 'non-ASCII characters must be percent-encoded');
      if (PLAIN[c]) {
        if (c === 0x3b && (seg === '.' || seg === '..')) {
          return reject('dot-segment-parameter', 'a "." or ".." segment with a ";" parameter is not allowed');
        }
        seg += raw[i];
      } else if (ENCODE[c]) {
        seg += encodeByte(c);
      } else {
        // space, '#', and anything else no client should send raw
        return reject('invalid-character', `character ${JSON.stringify(raw[i])} is not allowed in a path`);
      }
    }
    const last = i >= raw.length;
    if (seg === '' || seg === '.') {
      // `//` collapses; `.` is the current segment
    } else if (seg === '..') {
      out.pop();
    } else {
      out.push(seg);
    }
    if (last) {
      trailingSlash = seg === '' || seg === '.' || seg === '..';
      break;
    }
    i++; // skip '/'
  }
  const path = out.length === 0 ? '/' : `/${out.join('/')}${trailingSlash ? '/' : ''}`;
  return { ok: true, path, query };
}
