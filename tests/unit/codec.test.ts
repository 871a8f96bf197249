import {
  type Codec,
  CodecRegistry,
  InvalidArgumentError,
  InvalidOptionsError,
  isSwitchyardError,
  jsonCodec,
  msgpackCodec,
} from '@switchyard/broker';
import { describe, expect, it } from 'vitest';

describe('jsonCodec', () => {
  it('round-trips JSON values and writes UTF-8', () => {
    const value = { a: 1, b: [true, null, 'ü€'], c: { d: 1.5 } };
    const body = jsonCodec.encode(value);
    expect(Buffer.isBuffer(body)).toBe(true);
    expect(body.toString('utf8')).toBe(JSON.stringify(value));
    expect(jsonCodec.decode(body)).toEqual(value);
  });

  it('sends null for undefined, so the receiver still gets a valid document', () => {
    expect(jsonCodec.encode(undefined).toString()).toBe('null');
    expect(jsonCodec.decode(jsonCodec.encode(undefined))).toBeNull();
  });

  it('applies JSON rules: Dates become strings, undefined fields vanish', () => {
    const decoded = jsonCodec.decode(jsonCodec.encode({ at: new Date(0), gone: undefined })) as Record<string, unknown>;
    expect(decoded).toEqual({ at: '1970-01-01T00:00:00.000Z' });
    expect('gone' in decoded).toBe(false);
  });

  it('throws on a body that is not JSON, and on values JSON cannot hold', () => {
    expect(() => jsonCodec.decode(Buffer.from('{nope'))).toThrow();
    expect(() => jsonCodec.encode({ n: 1n })).toThrow();
  });
});

describe('msgpackCodec', () => {
  it('round-trips values, keeping binary data binary', () => {
    const value = { n: 42, s: 'x', bin: new Uint8Array([0, 1, 255]), list: [1, 'two', null] };
    const body = msgpackCodec.encode(value);
    expect(Buffer.isBuffer(body)).toBe(true);
    const decoded = msgpackCodec.decode(body) as typeof value;
    expect(decoded.bin).toBeInstanceOf(Uint8Array);
    expect([...decoded.bin]).toEqual([0, 1, 255]);
    expect({ ...decoded, bin: undefined }).toEqual({ ...value, bin: undefined });
  });

  it('is smaller than JSON for binary-heavy payloads', () => {
    const value = { blob: new Uint8Array(1000).fill(7) };
    expect(msgpackCodec.encode(value).length).toBeLessThan(jsonCodec.encode(value).length);
  });

  it('sends null for undefined', () => {
    expect(msgpackCodec.decode(msgpackCodec.encode(undefined))).toBeNull();
  });

  it('the returned Buffer views exactly the encoded bytes', () => {
    const body = msgpackCodec.encode('hi');
    expect([...body]).toEqual([0xa2, 0x68, 0x69]);
  });
});

describe('CodecRegistry', () => {
  it('knows JSON and msgpack, JSON by default', () => {
    const r = new CodecRegistry();
    expect(r.default).toBe(jsonCodec);
    expect(r.get('application/msgpack')).toBe(msgpackCodec);
  });

  it('refuses an unknown default or lookup with INVALID_OPTIONS', () => {
    expect(() => new CodecRegistry([jsonCodec], 'application/msgpack')).toThrow(InvalidOptionsError);
    expect(() => new CodecRegistry().get('text/csv')).toThrow(InvalidOptionsError);
  });

  it('decodes by content type; a missing one means JSON; parameters and case are ignored', () => {
    const r = new CodecRegistry();
    expect(r.decode(Buffer.from('{"a":1}'), undefined)).toEqual({ a: 1 });
    expect(r.decode(Buffer.from('{"a":1}'), 'Application/JSON; charset=utf-8')).toEqual({ a: 1 });
    expect(r.decode(msgpackCodec.encode({ a: 1 }), 'application/msgpack')).toEqual({ a: 1 });
  });

  it('codecOf finds the codec of a received type as sent or normalized; an unknown one is INVALID_ARGUMENT', () => {
    const r = new CodecRegistry();
    expect(r.codecOf('application/msgpack')).toBe(msgpackCodec);
    expect(r.codecOf(' Application/MsgPack ; v=1')).toBe(msgpackCodec);
    expect(r.codecOf(undefined)).toBe(jsonCodec);
    expect(() => r.codecOf('text/csv')).toThrow(InvalidArgumentError);
  });

  it('an unknown content type or a bad body is INVALID_ARGUMENT, never a raw error', () => {
    const r = new CodecRegistry();
    let err: unknown;
    try {
      r.decode(Buffer.from('a,b'), 'text/csv');
    } catch (e) {
      err = e;
    }
    expect(isSwitchyardError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as InstanceType<typeof InvalidArgumentError>).details).toEqual({ contentType: 'text/csv' });

    err = undefined;
    try {
      r.decode(Buffer.from('{broken'), 'application/json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain('application/json');
  });

  it('accepts custom codecs', () => {
    const text: Codec = {
      contentType: 'text/plain',
      encode: (v) => Buffer.from(String(v)),
      decode: (b) => b.toString('utf8'),
    };
    const r = new CodecRegistry([jsonCodec, text], 'text/plain');
    expect(r.default).toBe(text);
    expect(r.decode(Buffer.from('hello'), 'text/plain')).toBe('hello');
  });
});
