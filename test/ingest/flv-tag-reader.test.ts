import { describe, expect, it } from 'vitest';
import { FlvTagReader } from '../../ingest/packager/index.js';

/** An FLV tag with its PreviousTagSize, as the RTMP layer writes it. */
function tag(type: number, timestamp: number, body: Buffer): Buffer {
  const h = Buffer.alloc(11);
  h[0] = type;
  h.writeUIntBE(body.length, 1, 3);
  h.writeUIntBE(timestamp & 0xffffff, 4, 3);
  h[7] = (timestamp >>> 24) & 0xff;
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(11 + body.length);
  return Buffer.concat([h, body, trailer]);
}

const HEADER = Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
const TAGS = [
  { type: 18, timestamp: 0, payload: Buffer.from('meta') },
  { type: 9, timestamp: 33, payload: Buffer.from([0x17, 0, 0, 0, 0, 1, 2, 3]) },
  // Past 24 bits, and past 2^31: the extended byte is the high 8 bits of an unsigned 32-bit time.
  { type: 8, timestamp: 0x01234567, payload: Buffer.from([0xaf, 1, 9]) },
  { type: 9, timestamp: 0xfffffff0, payload: Buffer.alloc(0) },
];
const STREAM = Buffer.concat([HEADER, ...TAGS.map((t) => tag(t.type, t.timestamp, t.payload))]);

describe('FlvTagReader', () => {
  it('reads the header then one whole tag per write, as the RTMP sink writes them', () => {
    const r = new FlvTagReader();
    expect(r.push(HEADER)).toEqual([]);
    const out = TAGS.flatMap((t) => r.push(tag(t.type, t.timestamp, t.payload)));
    expect(out).toEqual(TAGS);
  });

  it('gives the same tags however the bytes are split or joined', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      const r = new FlvTagReader();
      const out = [...r.push(STREAM.subarray(0, cut)), ...r.push(STREAM.subarray(cut))];
      expect(out, `split at ${cut}`).toEqual(TAGS);
    }
    const bytewise = new FlvTagReader();
    const out = [...STREAM].flatMap((b) => bytewise.push(Buffer.from([b])));
    expect(out).toEqual(TAGS);
  });

  it('refuses a stream that does not start with an FLV header', () => {
    expect(() => new FlvTagReader().push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(/FLV header/);
  });
});
