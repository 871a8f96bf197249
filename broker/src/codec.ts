import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { InvalidArgumentError, InvalidOptionsError } from './errors.js';

/**
 * Turns payloads into message bodies and back. The content type travels in the AMQP
 * `content-type` property, so a receiver always decodes with the sender's codec.
 */
export interface Codec {
  /** MIME type written to `content-type`, e.g. `application/json`. */
  readonly contentType: string;
  encode(value: unknown): Buffer;
  /** Throws on a body that is not valid for this content type. */
  decode(body: Buffer): unknown;
}

export const jsonCodec: Codec = {
  contentType: 'application/json',
  encode(value) {
    // `undefined` has no JSON form; send `null` so the receiver gets a valid document.
    return Buffer.from(JSON.stringify(value === undefined ? null : value));
  },
  decode(body) {
    return JSON.parse(body.toString('utf8'));
  },
};

export const msgpackCodec: Codec = {
  contentType: 'application/msgpack',
  encode(value) {
    const bytes = msgpackEncode(value === undefined ? null : value);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  },
  decode(body) {
    return msgpackDecode(body);
  },
};

/** Codecs known to a transport, looked up by content type. */
export class CodecRegistry {
  private readonly byType = new Map<string, Codec>();
  readonly default: Codec;

  constructor(codecs: readonly Codec[] = [jsonCodec, msgpackCodec], defaultType = 'application/json') {
    for (const c of codecs) this.byType.set(c.contentType, c);
    const d = this.byType.get(defaultType);
    if (!d) throw new InvalidOptionsError(`codec: no codec registered for default content type "${defaultType}"`);
    this.default = d;
  }

  get(contentType: string): Codec {
    const c = this.byType.get(contentType);
    if (!c) throw new InvalidOptionsError(`codec: no codec registered for content type "${contentType}"`);
    return c;
  }

  /**
   * The codec of a received content type (as sent, or normalized: parameters dropped,
   * lower case); a missing one means JSON. INVALID_ARGUMENT when none is registered.
   */
  codecOf(contentType: string | undefined): Codec {
    if (contentType) {
      const exact = this.byType.get(contentType);
      if (exact !== undefined) return exact;
    }
    const type = contentType ? (contentType.split(';')[0] ?? '').trim().toLowerCase() : 'application/json';
    const codec = this.byType.get(type);
    if (!codec)
      throw new InvalidArgumentError(`unsupported content type "${contentType}"`, { details: { contentType } });
    return codec;
  }

  /**
   * Decode a received body. A missing content type means JSON (what most AMQP clients
   * send by default); an unknown one or an undecodable body is INVALID_ARGUMENT.
   */
  decode(body: Buffer, contentType: string | undefined): unknown {
    // Most messages carry a registered type exactly as registered: one lookup, no string built per message.
    const exact = contentType ? this.byType.get(contentType) : undefined;
    const type =
      exact !== undefined
        ? (contentType as string)
        : contentType
          ? (contentType.split(';')[0] ?? '').trim().toLowerCase()
          : 'application/json';
    const codec = exact ?? this.byType.get(type);
    if (!codec)
      throw new InvalidArgumentError(`unsupported content type "${contentType}"`, { details: { contentType } });
    try {
      return codec.decode(body);
    } catch (err) {
      throw new InvalidArgumentError(`payload is not valid ${type}: ${(err as Error).message}`, {
        details: { contentType: type },
      });
    }
  }
}
