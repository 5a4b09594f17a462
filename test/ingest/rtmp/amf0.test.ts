import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Amf0EcmaArray, Amf0Error, type Amf0Value, decodeAmf0, decodeAmf0Value, encodeAmf0, isAmf0Object } from '../../../ingest/rtmp/amf0.js';

describe('AMF0 encode/decode', () => {
  it('round-trips every supported type', () => {
    const values: Amf0Value[] = [
      0,
      -1.5,
      Number.MAX_SAFE_INTEGER,
      true,
      false,
      '',
      'connect',
      'ünïcødé ✓',
      null,
      undefined,
      new Date(1_700_000_000_000),
      [1, 'two', null, [true]],
      { app: 'live', nested: { deeper: { n: 1, list: ['a', 'b'] } }, empty: {} },
    ];
    for (const v of values) expect(decodeAmf0(encodeAmf0(v))).toEqual([v]);
    expect(decodeAmf0(encodeAmf0(...values))).toEqual(values);
  });

  it('writes strings over 65535 bytes as long strings', () => {
    const long = 'x'.repeat(70_000);
    const bytes = encodeAmf0(long);
    expect(bytes[0]).toBe(0x0c);
    expect(bytes.readUInt32BE(1)).toBe(70_000);
    expect(decodeAmf0(bytes)).toEqual([long]);
  });

  it('encodes known bytes (connect command head)', () => {
    expect(encodeAmf0('connect', 1).toString('hex')).toBe('020007636f6e6e656374' + '003ff0000000000000');
    expect(encodeAmf0({ a: null }).toString('hex')).toBe('03' + '000161' + '05' + '000009');
  });

  it('decodes ECMA arrays and typed objects to plain objects', () => {
    const ecma = encodeAmf0(new Amf0EcmaArray({ duration: 0, width: 320 }));
    expect(ecma[0]).toBe(0x08);
    expect(ecma.readUInt32BE(1)).toBe(2);
    expect(decodeAmf0(ecma)).toEqual([{ duration: 0, width: 320 }]);
    const typed = Buffer.concat([Buffer.from([0x10, 0x00, 0x03]), Buffer.from('Foo'), encodeAmf0({ x: 1 }).subarray(1)]);
    expect(decodeAmf0(typed)).toEqual([{ x: 1 }]);
  });

  it('keeps a "__proto__" key from the wire as an ordinary property', () => {
    const bytes = Buffer.concat([Buffer.from([0x03, 0x00, 0x09]), Buffer.from('__proto__'), encodeAmf0({ polluted: true }), Buffer.from([0, 0, 9])]);
    const [obj] = decodeAmf0(bytes);
    expect(isAmf0Object(obj)).toBe(true);
    expect(Object.getOwnPropertyNames(obj)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('decodes one value at an offset and reports where it ended', () => {
    const bytes = encodeAmf0('@setDataFrame', 'onMetaData');
    const first = decodeAmf0Value(bytes, 0);
    expect(first).toEqual({ value: '@setDataFrame', offset: 16 });
    expect(decodeAmf0Value(bytes, first.offset).value).toBe('onMetaData');
  });

  it('decodes unsupported (0x0d) as undefined and XML documents as strings', () => {
    expect(decodeAmf0(Buffer.from([0x0d]))).toEqual([undefined]);
    expect(decodeAmf0(Buffer.from([0x0f, 0, 0, 0, 2, 0x3c, 0x61]))).toEqual(['<a']);
  });
});

describe('AMF0 malformed input', () => {
  const complex = encodeAmf0('connect', 1, { app: 'live', tcUrl: 'rtmp://h/live', list: [1, 'a', { b: true }], when: new Date(0) });

  it('throws Amf0Error (only) for every truncation of a valid body', () => {
    for (let n = 1; n < complex.length; n++) {
      const cut = complex.subarray(0, n);
      try {
        decodeAmf0(cut);
        // Some prefixes end exactly between two values: that is a valid, shorter body.
      } catch (err) {
        expect(err).toBeInstanceOf(Amf0Error);
      }
    }
    expect(() => decodeAmf0(complex.subarray(0, 5))).toThrow(Amf0Error);
  });

  it('refuses lengths beyond the buffer without allocating them', () => {
    expect(() => decodeAmf0(Buffer.from([0x02, 0xff, 0xff, 0x61]))).toThrow(/truncated string/);
    expect(() => decodeAmf0(Buffer.from([0x0c, 0xff, 0xff, 0xff, 0xff]))).toThrow(/truncated long string/);
    expect(() => decodeAmf0(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x05]))).toThrow(/strict array count/);
    expect(() => decodeAmf0(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff]))).toThrow(Amf0Error);
    expect(() => decodeAmf0(Buffer.from([0x00, 0x01, 0x02]))).toThrow(/truncated number/);
  });

  it('refuses nesting deeper than the limit', () => {
    const deep = Buffer.concat([...Array.from({ length: 200 }, () => Buffer.from([0x0a, 0, 0, 0, 1])), Buffer.from([0x05])]);
    expect(() => decodeAmf0(deep)).toThrow(/nesting/);
    const objects = Buffer.concat([...Array.from({ length: 40 }, () => Buffer.from([0x03, 0x00, 0x01, 0x6b])), Buffer.from([0x05])]);
    expect(() => decodeAmf0(objects)).toThrow(/nesting deeper than 16/);
    expect(() => decodeAmf0(objects, { maxDepth: 64 })).toThrow(/truncated/);
  });

  it('refuses unsupported markers: reference, movie clip, record set, AMF3 switch, unknown', () => {
    for (const marker of [0x04, 0x07, 0x0e, 0x11, 0x12, 0xff]) {
      expect(() => decodeAmf0(Buffer.from([marker, 0, 0, 0, 0]))).toThrow(Amf0Error);
    }
    expect(() => decodeAmf0(Buffer.from([0x09]))).toThrow(/object end/);
  });

  it('never throws anything but Amf0Error on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeAmf0(Buffer.from(bytes));
        } catch (err) {
          if (!(err instanceof Amf0Error)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws anything but Amf0Error on mutated valid bodies', () => {
    fc.assert(
      fc.property(fc.nat(complex.length - 1), fc.integer({ min: 0, max: 255 }), (index, byte) => {
        const b = Buffer.from(complex);
        b[index] = byte;
        try {
          decodeAmf0(b);
        } catch (err) {
          if (!(err instanceof Amf0Error)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
