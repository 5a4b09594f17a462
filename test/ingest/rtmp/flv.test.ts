import { describe, expect, it } from 'vitest';
import { Amf0EcmaArray, decodeAmf0, encodeAmf0 } from '../../../ingest/rtmp/amf0.js';
import { flvHeader, flvTag, scriptTagData, splitAggregate } from '../../../ingest/rtmp/flv.js';

describe('FLV framing', () => {
  it('writes the header with audio and video flags and PreviousTagSize0', () => {
    expect(flvHeader().toString('hex')).toBe('464c5601' + '05' + '00000009' + '00000000');
    expect(flvHeader({ audio: false })[4]).toBe(0x01);
    expect(flvHeader({ video: false })[4]).toBe(0x04);
  });

  it('writes a tag with a 24-bit timestamp, the extended byte and PreviousTagSize', () => {
    const tag = flvTag(9, 0x12345678, Buffer.from([0x17, 0x01, 0xaa]));
    expect(tag.toString('hex')).toBe('09' + '000003' + '345678' + '12' + '000000' + '1701aa' + '0000000e');
    expect(flvTag(8, 1000, Buffer.alloc(0)).toString('hex')).toBe('08' + '000000' + '0003e8' + '00' + '000000' + '0000000b');
  });

  it('splits an aggregate message into tags, aligned to the message timestamp', () => {
    const body = Buffer.concat([flvTag(9, 5000, Buffer.from([1, 2])), flvTag(8, 5021, Buffer.from([3])), flvTag(9, 5033, Buffer.from([4, 5, 6]))]);
    const { tags, truncated } = splitAggregate(body, 100);
    expect(truncated).toBe(false);
    expect(tags.map((t) => [t.type, t.timestamp, t.data.toString('hex')])).toEqual([
      [9, 100, '0102'],
      [8, 121, '03'],
      [9, 133, '040506'],
    ]);
  });

  it('reports a truncated aggregate and keeps the whole sub-messages before it', () => {
    const body = Buffer.concat([flvTag(9, 0, Buffer.from([1])), flvTag(8, 10, Buffer.from([1, 2, 3]))]);
    for (let n = body.length - 1; n > 16; n--) {
      const { tags, truncated } = splitAggregate(body.subarray(0, n), 0);
      expect(truncated).toBe(true);
      expect(tags.length).toBe(1);
    }
    // A size field larger than the body.
    const lying = flvTag(9, 0, Buffer.from([1]));
    lying.writeUIntBE(0xffffff, 1, 3);
    expect(splitAggregate(lying, 0)).toEqual({ tags: [], truncated: true });
  });

  it('unwraps @setDataFrame and keeps other script data', () => {
    const meta = encodeAmf0('onMetaData', new Amf0EcmaArray({ width: 320, height: 240 }));
    const wrapped = Buffer.concat([encodeAmf0('@setDataFrame'), meta]);
    expect(scriptTagData(wrapped)).toEqual(meta);
    expect(decodeAmf0(scriptTagData(wrapped)!)).toEqual(['onMetaData', { width: 320, height: 240 }]);
    expect(scriptTagData(meta)).toEqual(meta);
    const text = encodeAmf0('onTextData', { text: 'hi' });
    expect(scriptTagData(text)).toEqual(text);
  });

  it('drops @clearDataFrame, empty wrappers and non-AMF0 data', () => {
    expect(scriptTagData(encodeAmf0('@clearDataFrame'))).toBeUndefined();
    expect(scriptTagData(encodeAmf0('@setDataFrame'))).toBeUndefined();
    expect(scriptTagData(encodeAmf0('@setDataFrame', 5))).toBeUndefined();
    expect(scriptTagData(encodeAmf0(42, 'x'))).toBeUndefined();
    expect(scriptTagData(Buffer.alloc(0))).toBeUndefined();
    expect(scriptTagData(Buffer.from([0x02, 0xff, 0xff]))).toBeUndefined();
  });
});
