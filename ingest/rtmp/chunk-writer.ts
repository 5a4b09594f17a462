/**
 * The sending half of the RTMP chunk stream (§5.3): splits a message into chunks of `chunkSize` bytes.
 *
 * By default every message starts with a type 0 header (what the server sends is a handful of small control
 * and command messages, so compression buys nothing). With `compress: true` it picks the smallest header the
 * previous message on the same chunk stream allows (fmt 1, 2 or 3), as publishing clients do; the tests use
 * that to drive the reader through every header type.
 */

export interface OutgoingMessage {
  readonly csid: number;
  readonly type: number;
  readonly streamId: number;
  readonly timestamp: number;
  readonly payload: Buffer;
}

export interface ChunkWriterOptions {
  /** Use fmt 1/2/3 headers when the previous message on the chunk stream allows. Default false. */
  readonly compress?: boolean;
}

interface LastHeader {
  timestamp: number;
  delta: number;
  length: number;
  type: number;
  streamId: number;
  extended: boolean;
}

/** Largest chunk stream id the 3-byte basic header can express. */
export const MAX_CHUNK_STREAM_ID = 65599;

export function basicHeader(fmt: number, csid: number): Buffer {
  if (!Number.isInteger(csid) || csid < 2 || csid > MAX_CHUNK_STREAM_ID) throw new RangeError(`chunk stream id ${csid} out of range`);
  if (csid <= 63) return Buffer.from([(fmt << 6) | csid]);
  if (csid <= 319) return Buffer.from([fmt << 6, csid - 64]);
  const v = csid - 64;
  return Buffer.from([(fmt << 6) | 1, v & 0xff, v >> 8]);
}

export class ChunkWriter {
  /** Outgoing maximum chunk size. Change it right after sending a Set Chunk Size message. */
  chunkSize = 128;
  readonly #compress: boolean;
  readonly #last = new Map<number, LastHeader>();

  constructor(options: ChunkWriterOptions = {}) {
    this.#compress = options.compress ?? false;
  }

  /** Encode one message as a sequence of chunks, in one buffer. */
  encode(message: OutgoingMessage): Buffer {
    const { csid, type, streamId, payload } = message;
    const timestamp = message.timestamp >>> 0;
    const length = payload.length;
    if (length > 0xffffff) throw new RangeError(`message of ${length} bytes exceeds the 24-bit length field`);
    if (!Number.isInteger(type) || type < 0 || type > 255) throw new RangeError(`message type ${type} out of range`);

    const last = this.#compress ? this.#last.get(csid) : undefined;
    let fmt = 0;
    let field = timestamp;
    let extended = timestamp >= 0xffffff;
    if (last && last.streamId === streamId && timestamp >= last.timestamp) {
      const delta = timestamp - last.timestamp;
      field = delta;
      extended = delta >= 0xffffff;
      if (last.length !== length || last.type !== type) fmt = 1;
      else if (last.delta !== delta) fmt = 2;
      else {
        fmt = 3;
        extended = last.extended;
      }
    }
    if (fmt === 0) field = timestamp;
    this.#last.set(csid, {
      timestamp,
      delta: field,
      length,
      type,
      streamId,
      extended,
    });

    const parts: Buffer[] = [basicHeader(fmt, csid)];
    if (fmt <= 2) {
      const header = Buffer.alloc(fmt === 0 ? 11 : fmt === 1 ? 7 : 3);
      header.writeUIntBE(extended ? 0xffffff : field, 0, 3);
      if (fmt <= 1) {
        header.writeUIntBE(length, 3, 3);
        header[6] = type;
      }
      if (fmt === 0) header.writeUInt32LE(streamId >>> 0, 7);
      parts.push(header);
    }
    const ext = extended ? Buffer.alloc(4) : null;
    if (ext) {
      ext.writeUInt32BE(field >>> 0);
      parts.push(ext);
    }
    const continuation = ext ? Buffer.concat([basicHeader(3, csid), ext]) : basicHeader(3, csid);
    let off = 0;
    do {
      const n = Math.min(this.chunkSize, length - off);
      if (off > 0) parts.push(continuation);
      parts.push(payload.subarray(off, off + n));
      off += n;
    } while (off < length);
    return Buffer.concat(parts);
  }
}
