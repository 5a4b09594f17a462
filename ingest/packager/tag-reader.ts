/**
 * An FLV byte stream (header, then tags with their PreviousTagSize) back into RTMP-style media messages:
 * type, raw 32-bit timestamp and body, ready for `Packager.push`. Incremental: writes may split or join tags
 * anywhere, although the RTMP layer writes the header once and then one whole tag per write.
 */

/** One FLV tag as a media message. */
export interface FlvTag {
  /** 8 audio, 9 video, 18 script data. */
  readonly type: number;
  /** The 32-bit timestamp: the 24 low bits plus the extended byte as the high 8. */
  readonly timestamp: number;
  readonly payload: Buffer;
}

const TAG_HEADER = 11;
const TRAILER = 4;

/** Splits an FLV byte stream into tags. `push` throws on bytes that are not FLV. */
export class FlvTagReader {
  private pending: Buffer = Buffer.alloc(0);
  private headerDone = false;

  /** Feeds bytes; returns the tags they completed, in order. */
  push(chunk: Buffer): FlvTag[] {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (!this.headerDone) {
      if (buf.length < 9) {
        this.pending = buf;
        return [];
      }
      if (buf.toString('latin1', 0, 3) !== 'FLV') throw new Error('FLV stream does not start with an FLV header');
      const headerSize = buf.readUInt32BE(5);
      if (headerSize < 9 || headerSize > 64) throw new Error(`FLV header size ${headerSize} is out of range`);
      if (buf.length < headerSize + TRAILER) {
        this.pending = buf;
        return [];
      }
      buf = buf.subarray(headerSize + TRAILER);
      this.headerDone = true;
    }
    const tags: FlvTag[] = [];
    let off = 0;
    while (buf.length - off >= TAG_HEADER) {
      const size = buf.readUIntBE(off + 1, 3);
      if (buf.length - off < TAG_HEADER + size + TRAILER) break;
      const timestamp = (buf.readUIntBE(off + 4, 3) | (buf[off + 7] << 24)) >>> 0;
      tags.push({ type: buf[off] & 0x1f, timestamp, payload: buf.subarray(off + TAG_HEADER, off + TAG_HEADER + size) });
      off += TAG_HEADER + size + TRAILER;
    }
    this.pending = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
    return tags;
  }
}
