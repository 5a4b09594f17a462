import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkReader, RtmpProtocolError, type RtmpMessage } from '../../../ingest/rtmp/chunk-reader.js';
import { basicHeader, ChunkWriter, type OutgoingMessage } from '../../../ingest/rtmp/chunk-writer.js';
import { MessageType } from '../../../ingest/rtmp/messages.js';

function collect(options: Partial<ConstructorParameters<typeof ChunkReader>[0]> = {}): { reader: ChunkReader; messages: RtmpMessage[] } {
  const messages: RtmpMessage[] = [];
  const reader = new ChunkReader({
    onMessage: (m) => {
      if (m.type === MessageType.SetChunkSize) reader.chunkSize = m.payload.readUInt32BE(0);
      messages.push({ ...m, payload: Buffer.from(m.payload) });
    },
    ...options,
  });
  return { reader, messages };
}

function payload(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function plain(m: RtmpMessage | OutgoingMessage): object {
  return { csid: m.csid, type: m.type, streamId: m.streamId, timestamp: m.timestamp, payload: m.payload.toString('hex') };
}

/** Messages chosen so that a compressing writer uses all four header types. */
function mixedMessages(): OutgoingMessage[] {
  return [
    { csid: 4, type: 8, streamId: 1, timestamp: 0, payload: payload(10) }, // fmt 0
    { csid: 4, type: 8, streamId: 1, timestamp: 23, payload: payload(10, 2) }, // fmt 2 (same length/type)
    { csid: 4, type: 8, streamId: 1, timestamp: 46, payload: payload(10, 3) }, // fmt 3 (same delta)
    { csid: 6, type: 9, streamId: 1, timestamp: 0, payload: payload(300, 4) }, // fmt 0, spans chunks
    { csid: 6, type: 9, streamId: 1, timestamp: 33, payload: payload(500, 5) }, // fmt 1 (new length)
    { csid: 64, type: 18, streamId: 1, timestamp: 5, payload: payload(5) }, // 2-byte basic header
    { csid: 320, type: 20, streamId: 0, timestamp: 0, payload: payload(129) }, // 3-byte basic header
    { csid: 65599, type: 20, streamId: 0, timestamp: 7, payload: payload(1) }, // largest chunk stream id
    { csid: 4, type: 8, streamId: 1, timestamp: 69, payload: payload(10, 6) }, // fmt 3 again
    { csid: 5, type: 20, streamId: 1, timestamp: 0, payload: Buffer.alloc(0) }, // empty message
  ];
}

function encodeAll(messages: OutgoingMessage[], chunkSize = 128): Buffer {
  const writer = new ChunkWriter({ compress: true });
  writer.chunkSize = chunkSize;
  return Buffer.concat(messages.map((m) => writer.encode(m)));
}

describe('chunk writer', () => {
  it('encodes basic headers of 1, 2 and 3 bytes', () => {
    expect(basicHeader(0, 2)).toEqual(Buffer.from([0x02]));
    expect(basicHeader(3, 63)).toEqual(Buffer.from([0xff]));
    expect(basicHeader(1, 64)).toEqual(Buffer.from([0x40, 0x00]));
    expect(basicHeader(0, 319)).toEqual(Buffer.from([0x00, 0xff]));
    expect(basicHeader(2, 320)).toEqual(Buffer.from([0x81, 0x00, 0x01]));
    expect(basicHeader(0, 65599)).toEqual(Buffer.from([0x01, 0xff, 0xff]));
    expect(() => basicHeader(0, 1)).toThrow(RangeError);
    expect(() => basicHeader(0, 65600)).toThrow(RangeError);
  });

  it('writes a type 0 header then type 3 continuation chunks', () => {
    const w = new ChunkWriter();
    const out = w.encode({ csid: 3, type: 20, streamId: 1, timestamp: 0x010203, payload: payload(200) });
    expect(out.subarray(0, 12).toString('hex')).toBe('03' + '010203' + '0000c8' + '14' + '01000000');
    expect(out[12 + 128]).toBe(0xc3);
    expect(out.length).toBe(12 + 200 + 1);
  });

  it('picks fmt 0, 2, 3 and 1 when compressing', () => {
    const w = new ChunkWriter({ compress: true });
    const fmts = mixedMessages().map((m) => w.encode(m)[0] >> 6);
    expect(fmts).toEqual([0, 2, 3, 0, 1, 0, 0, 0, 3, 0]);
  });
});

describe('chunk reader', () => {
  it('reads messages using every header type and basic header size', () => {
    const { reader, messages } = collect();
    reader.push(encodeAll(mixedMessages()));
    expect(messages.map(plain)).toEqual(mixedMessages().map(plain));
  });

  it('reads the same messages fed one byte at a time', () => {
    const { reader, messages } = collect();
    const bytes = encodeAll(mixedMessages());
    for (let i = 0; i < bytes.length; i++) reader.push(bytes.subarray(i, i + 1));
    expect(messages.map(plain)).toEqual(mixedMessages().map(plain));
    expect(reader.bufferedBytes).toBe(0);
  });

  it('reads the same messages split at arbitrary boundaries', () => {
    const bytes = encodeAll(mixedMessages(), 64);
    const expected = mixedMessages().map(plain);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const { reader, messages } = collect();
        reader.chunkSize = 64;
        let prev = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          reader.push(bytes.subarray(prev, cut));
          prev = cut;
        }
        reader.push(bytes.subarray(prev));
        expect(messages.map(plain)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('handles extended timestamps on type 0, 1, 2 and 3 headers and on continuation chunks', () => {
    const big = 0x12345678;
    const msgs: OutgoingMessage[] = [
      { csid: 6, type: 9, streamId: 1, timestamp: big, payload: payload(400) }, // fmt 0 + ext, 3 continuations with ext
      { csid: 6, type: 9, streamId: 1, timestamp: big + 33, payload: payload(100) }, // fmt 1, small delta
      { csid: 6, type: 9, streamId: 1, timestamp: big + 33 + 0x1000000, payload: payload(100, 9) }, // fmt 2 + ext delta
      { csid: 6, type: 9, streamId: 1, timestamp: big + 33 + 0x2000000, payload: payload(300, 7) }, // fmt 1 + ext delta, spans chunks
      { csid: 6, type: 9, streamId: 1, timestamp: big + 33 + 0x3000000, payload: payload(300, 8) }, // fmt 3 + ext (same delta)
      { csid: 7, type: 8, streamId: 1, timestamp: 0xffffff, payload: payload(3) }, // exactly the marker value
    ];
    const w = new ChunkWriter({ compress: true });
    const encoded = msgs.map((m) => w.encode(m));
    expect(encoded.map((b) => b[0] >> 6)).toEqual([0, 1, 2, 1, 3, 0]);
    // fmt 0 with extended timestamp: 1 + 11 + 4 header, then continuations of 1 + 4.
    expect(encoded[0].readUIntBE(1, 3)).toBe(0xffffff);
    expect(encoded[0].readUInt32BE(12)).toBe(big);
    expect(encoded[0].length).toBe(16 + 400 + 3 * 5);
    const bytes = Buffer.concat(encoded);
    const { reader, messages } = collect();
    for (let i = 0; i < bytes.length; i += 7) reader.push(bytes.subarray(i, i + 7));
    expect(messages.map(plain)).toEqual(msgs.map((m) => plain({ ...m, timestamp: m.timestamp >>> 0 })));
  });

  it('treats a type 3 header after a type 0 as repeating the type 0 timestamp as delta', () => {
    // fmt 0 at 100, then a bare fmt 3 starting a new message: 100 + 100 = 200 (FFmpeg reads it this way too).
    const first = new ChunkWriter().encode({ csid: 4, type: 8, streamId: 1, timestamp: 100, payload: payload(4) });
    const second = Buffer.concat([Buffer.from([0xc4]), payload(4, 2)]);
    const { reader, messages } = collect();
    reader.push(Buffer.concat([first, second]));
    expect(messages.map((m) => m.timestamp)).toEqual([100, 200]);
  });

  it('wraps timestamps modulo 2^32', () => {
    const w = new ChunkWriter({ compress: true });
    const bytes = Buffer.concat([
      w.encode({ csid: 4, type: 8, streamId: 1, timestamp: 0xfffffff0, payload: payload(2) }),
      // A hand-made fmt 2 with delta 0x20 crosses 2^32.
      Buffer.from([0x84, 0x00, 0x00, 0x20, 1, 2]),
    ]);
    const { reader, messages } = collect();
    reader.push(bytes);
    expect(messages.map((m) => m.timestamp)).toEqual([0xfffffff0, 0x10]);
  });

  it('applies a Set Chunk Size to the chunks that follow it in the same read', () => {
    const w = new ChunkWriter({ compress: true });
    const size = Buffer.alloc(4);
    size.writeUInt32BE(1000);
    const before = w.encode({ csid: 6, type: 9, streamId: 1, timestamp: 0, payload: payload(300) });
    const setSize = w.encode({ csid: 2, type: MessageType.SetChunkSize, streamId: 0, timestamp: 0, payload: size });
    w.chunkSize = 1000;
    const after = w.encode({ csid: 6, type: 9, streamId: 1, timestamp: 40, payload: payload(900, 3) });
    expect(after.length).toBe(8 + 900); // one chunk with a 7-byte header
    const { reader, messages } = collect();
    reader.push(Buffer.concat([before, setSize, after]));
    expect(reader.chunkSize).toBe(1000);
    expect(messages.map((m) => [m.type, m.payload.length, m.timestamp])).toEqual([
      [9, 300, 0],
      [1, 4, 0],
      [9, 900, 40],
    ]);
  });

  it('reassembles interleaved chunk streams', () => {
    const w = new ChunkWriter();
    const video = w.encode({ csid: 6, type: 9, streamId: 1, timestamp: 0, payload: payload(256, 1) }); // 2 chunks
    const audio = w.encode({ csid: 4, type: 8, streamId: 1, timestamp: 0, payload: payload(20, 2) });
    const cut = 12 + 128;
    const { reader, messages } = collect();
    reader.push(Buffer.concat([video.subarray(0, cut), audio, video.subarray(cut)]));
    expect(messages.map((m) => [m.csid, m.payload.length])).toEqual([
      [4, 20],
      [6, 256],
    ]);
    expect(messages[1].payload).toEqual(payload(256, 1));
  });

  it('drops a partial message on Abort, and when a new header interrupts it', () => {
    const w = new ChunkWriter();
    const video = w.encode({ csid: 6, type: 9, streamId: 1, timestamp: 0, payload: payload(256) });
    const { reader, messages } = collect();
    reader.push(video.subarray(0, 12 + 128));
    expect(reader.bufferedBytes).toBe(128);
    reader.abort(6);
    expect(reader.bufferedBytes).toBe(0);
    reader.push(w.encode({ csid: 6, type: 9, streamId: 1, timestamp: 5, payload: payload(10) }));
    reader.push(video.subarray(0, 12 + 128));
    reader.push(w.encode({ csid: 6, type: 9, streamId: 1, timestamp: 9, payload: payload(11) }));
    expect(messages.map((m) => [m.timestamp, m.payload.length])).toEqual([
      [5, 10],
      [9, 11],
    ]);
    expect(reader.bufferedBytes).toBe(0);
  });

  it('refuses a declared length over the limit before reading the body', () => {
    const { reader, messages } = collect({ maxMessageLength: (type) => (type === 9 ? 1000 : 100) });
    const header = Buffer.from([0x06, 0, 0, 0, 0x00, 0x03, 0xe9, 9, 1, 0, 0, 0]); // 1001 bytes of video
    expect(() => reader.push(header)).toThrow(RtmpProtocolError);
    expect(messages).toEqual([]);
    const { reader: r2 } = collect({ maxMessageLength: () => 100 });
    expect(() => r2.push(Buffer.from([0x03, 0, 0, 0, 0xff, 0xff, 0xff, 20, 0, 0, 0, 0]))).toThrow(/16777215 bytes/);
  });

  it('caps bytes held in unfinished messages across chunk streams', () => {
    const { reader } = collect({ maxBufferedBytes: 1000 });
    reader.chunkSize = 400;
    const w = new ChunkWriter();
    w.chunkSize = 400;
    const a = w.encode({ csid: 4, type: 9, streamId: 1, timestamp: 0, payload: payload(900) });
    const b = w.encode({ csid: 5, type: 9, streamId: 1, timestamp: 0, payload: payload(900) });
    reader.push(a.subarray(0, 12 + 400));
    reader.push(b.subarray(0, 12 + 400));
    expect(reader.bufferedBytes).toBe(800);
    expect(() => reader.push(a.subarray(12 + 400, 12 + 400 + 1 + 400))).toThrow(/unfinished messages/);
  });

  it('caps the number of chunk streams', () => {
    const { reader } = collect({ maxChunkStreams: 3 });
    const w = new ChunkWriter();
    for (const csid of [3, 4, 5]) reader.push(w.encode({ csid, type: 20, streamId: 0, timestamp: 0, payload: payload(2) }));
    expect(reader.chunkStreamCount).toBe(3);
    expect(() => reader.push(w.encode({ csid: 6, type: 20, streamId: 0, timestamp: 0, payload: payload(2) }))).toThrow(/chunk streams/);
  });

  it('refuses a chunk stream that starts with a type 2 or 3 header', () => {
    expect(() => collect().reader.push(Buffer.from([0x83, 0, 0, 1]))).toThrow(/starts with a type 2/);
    expect(() => collect().reader.push(Buffer.from([0xc3]))).toThrow(/starts with a type 3/);
  });

  it('accepts a type 1 header on a new chunk stream (librtmp may send one)', () => {
    const { reader, messages } = collect();
    reader.push(Buffer.from([0x44, 0, 0, 10, 0, 0, 2, 8, 0xaa, 0xbb]));
    expect(messages.map((m) => [m.type, m.timestamp, m.streamId, m.payload.toString('hex')])).toEqual([[8, 10, 0, 'aabb']]);
  });

  it('ignores input after stop()', () => {
    const { reader, messages } = collect();
    const bytes = encodeAll(mixedMessages());
    reader.push(bytes.subarray(0, 30));
    reader.stop();
    reader.push(bytes.subarray(30));
    expect(messages.length).toBeLessThan(2);
    expect(reader.bufferedBytes).toBe(0);
  });

  it('never throws anything but RtmpProtocolError on random bytes, and stays bounded', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 10 }), (reads) => {
        const { reader } = collect({ maxMessageLength: () => 4096, maxBufferedBytes: 8192, maxChunkStreams: 8 });
        try {
          for (const r of reads) reader.push(Buffer.from(r));
        } catch (err) {
          if (!(err instanceof RtmpProtocolError)) throw err;
        }
        expect(reader.bufferedBytes).toBeLessThanOrEqual(8192);
        expect(reader.chunkStreamCount).toBeLessThanOrEqual(8);
      }),
      { numRuns: 3000 },
    );
  });
});
