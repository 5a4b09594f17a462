/**
 * The receiving half of the RTMP chunk stream (§5.3): turns bytes, cut at any TCP boundary, into whole
 * messages. It keeps per chunk stream the header fields that later chunks omit (fmt 1–3), handles the 1/2/3
 * byte chunk stream ids and extended timestamps, and reassembles messages split into chunks.
 *
 * Memory is bounded by construction:
 * - a message body grows as its bytes arrive (never allocated from the declared length alone);
 * - the declared length is checked against a per-type limit before any byte of the body is accepted;
 * - the bytes held in unfinished messages across all chunk streams are capped (`maxBufferedBytes`);
 * - the number of chunk streams a peer may open is capped;
 * - a header split across reads is kept in at most 18 bytes.
 * Any violation throws `RtmpProtocolError`; the caller closes the connection.
 */

export class RtmpProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RtmpProtocolError';
  }
}

export interface RtmpMessage {
  /** Chunk stream the message arrived on. */
  readonly csid: number;
  /** Message type id (see `MessageType`). */
  readonly type: number;
  /** Message stream id (0 for NetConnection, the created stream's id for NetStream messages). */
  readonly streamId: number;
  /** Absolute timestamp in milliseconds, modulo 2^32. */
  readonly timestamp: number;
  readonly payload: Buffer;
}

export interface ChunkReaderOptions {
  /** Called synchronously for each complete message, in order. It may change `chunkSize` or call `abort`/`stop`. */
  readonly onMessage: (message: RtmpMessage) => void;
  /** Largest declared length accepted for a message of the given type id. Default: 8 MiB for every type. */
  readonly maxMessageLength?: (type: number) => number;
  /** Most distinct chunk streams a peer may use on one connection. Default 64. */
  readonly maxChunkStreams?: number;
  /** Most bytes held in unfinished messages over all chunk streams. Default 8 MiB. Mutable later. */
  readonly maxBufferedBytes?: number;
}

/** Basic header (3) + type 0 message header (11) + extended timestamp (4). */
export const MAX_CHUNK_HEADER_SIZE = 18;
const MESSAGE_HEADER_SIZE = [11, 7, 3, 0] as const;
const INITIAL_BODY_CAPACITY = 256;
const DEFAULT_MAX_MESSAGE_LENGTH = 8 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

interface ChunkStream {
  readonly csid: number;
  timestamp: number;
  /**
   * The timestamp field of the last header: a delta for fmt 1/2, the absolute timestamp for fmt 0. A fmt 3
   * header starting a message adds it again (so after a fmt 0 the timestamp doubles, as FFmpeg reads it).
   */
  delta: number;
  /** Whether the last fmt 0–2 header used an extended timestamp; fmt 3 chunks then carry one too. */
  extended: boolean;
  length: number;
  type: number;
  streamId: number;
  /** A message is being reassembled on this chunk stream. */
  active: boolean;
  received: number;
  body: Buffer | null;
}

export class ChunkReader {
  /** Incoming maximum chunk size, changed by the peer's Set Chunk Size. RTMP starts at 128. */
  chunkSize = 128;
  /** See `ChunkReaderOptions.maxBufferedBytes`; may be raised once a publish is accepted. */
  maxBufferedBytes: number;

  readonly #onMessage: (message: RtmpMessage) => void;
  readonly #maxMessageLength: (type: number) => number;
  readonly #maxChunkStreams: number;
  readonly #streams = new Map<number, ChunkStream>();
  /** Bytes of a chunk header cut by a read boundary (fewer than a whole header). */
  #pending: Buffer | null = null;
  /** The chunk stream whose chunk payload is being read, and how many payload bytes of this chunk remain. */
  #current: ChunkStream | null = null;
  #chunkLeft = 0;
  #buffered = 0;
  #stopped = false;

  constructor(options: ChunkReaderOptions) {
    this.#onMessage = options.onMessage;
    this.#maxMessageLength = options.maxMessageLength ?? (() => DEFAULT_MAX_MESSAGE_LENGTH);
    this.#maxChunkStreams = options.maxChunkStreams ?? 64;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_MESSAGE_LENGTH;
  }

  /** Bytes currently held in unfinished messages. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Number of chunk streams the peer has used. */
  get chunkStreamCount(): number {
    return this.#streams.size;
  }

  /** Stop delivering messages; later `push` calls are ignored and buffers are released. */
  stop(): void {
    this.#stopped = true;
    this.#streams.clear();
    this.#pending = null;
    this.#current = null;
    this.#buffered = 0;
  }

  /** Abort message (§5.4.2): drop the partly received message on a chunk stream. */
  abort(csid: number): void {
    const stream = this.#streams.get(csid);
    if (!stream || !stream.active) return;
    if (this.#current === stream) {
      // Cannot happen for an Abort delivered through onMessage (a message completes at a chunk boundary),
      // but keep the reader consistent if a caller aborts mid-chunk.
      throw new RtmpProtocolError(`abort of chunk stream ${csid} in the middle of its chunk`);
    }
    this.#discard(stream);
  }

  /** Feed bytes as they arrive. Throws `RtmpProtocolError` on a violation; the reader is then unusable. */
  push(data: Buffer): void {
    let pos = 0;
    while (!this.#stopped) {
      const current = this.#current;
      if (current) {
        const n = Math.min(this.#chunkLeft, data.length - pos);
        if (n === 0) return;
        this.#append(current, data, pos, n);
        pos += n;
        this.#chunkLeft -= n;
        if (this.#chunkLeft === 0) {
          this.#current = null;
          if (current.received === current.length) this.#complete(current);
        }
        continue;
      }
      if (pos >= data.length) return;
      const pending = this.#pending;
      if (pending) {
        const take = Math.min(data.length - pos, MAX_CHUNK_HEADER_SIZE - pending.length);
        const joined = Buffer.concat([pending, data.subarray(pos, pos + take)]);
        const used = this.#readHeader(joined, 0);
        if (used < 0) {
          // 18 bytes always hold a whole header, so this only happens when the read ran out.
          this.#pending = joined;
          return;
        }
        this.#pending = null;
        pos += used - pending.length;
        continue;
      }
      const used = this.#readHeader(data, pos);
      if (used < 0) {
        this.#pending = Buffer.from(data.subarray(pos));
        return;
      }
      pos += used;
    }
  }

  /**
   * Parse one chunk header at `off`. Returns the bytes it used, or -1 if `b` ends before the header does (in
   * which case nothing has changed, so the same bytes can be parsed again once more have arrived).
   */
  #readHeader(b: Buffer, off: number): number {
    const end = b.length;
    const b0 = b[off];
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    let p = off + 1;
    if (csid === 0) {
      if (end - p < 1) return -1;
      csid = b[p] + 64;
      p += 1;
    } else if (csid === 1) {
      if (end - p < 2) return -1;
      csid = b[p] + b[p + 1] * 256 + 64;
      p += 2;
    }
    const headerSize = MESSAGE_HEADER_SIZE[fmt as 0 | 1 | 2 | 3];
    if (end - p < headerSize) return -1;

    let stream = this.#streams.get(csid);
    if (!stream && fmt >= 2) {
      throw new RtmpProtocolError(`chunk stream ${csid} starts with a type ${fmt} header`);
    }
    let field = 0;
    let length = 0;
    let type = 0;
    let streamId = 0;
    if (fmt <= 2) field = b.readUIntBE(p, 3);
    if (fmt <= 1) {
      length = b.readUIntBE(p + 3, 3);
      type = b[p + 6];
    }
    if (fmt === 0) streamId = b.readUInt32LE(p + 7);
    p += headerSize;
    const extended = fmt === 3 ? stream!.extended : field === 0xffffff;
    if (extended) {
      if (end - p < 4) return -1;
      field = b.readUInt32BE(p);
      p += 4;
    }

    // The header is complete: apply it.
    if (!stream) {
      if (this.#streams.size >= this.#maxChunkStreams) {
        throw new RtmpProtocolError(`more than ${this.#maxChunkStreams} chunk streams`);
      }
      stream = {
        csid,
        timestamp: 0,
        delta: 0,
        extended: false,
        length: 0,
        type: 0,
        streamId: 0,
        active: false,
        received: 0,
        body: null,
      };
      this.#streams.set(csid, stream);
    }

    if (fmt !== 3 || !stream.active) {
      // The first chunk of a new message. A new header while a message is unfinished drops that message.
      if (stream.active) this.#discard(stream);
      switch (fmt) {
        case 0:
          stream.timestamp = field;
          stream.delta = field;
          stream.length = length;
          stream.type = type;
          stream.streamId = streamId;
          break;
        case 1:
          stream.delta = field;
          stream.timestamp = (stream.timestamp + field) >>> 0;
          stream.length = length;
          stream.type = type;
          break;
        case 2:
          stream.delta = field;
          stream.timestamp = (stream.timestamp + field) >>> 0;
          break;
        default:
          // fmt 3 starting a message: same length, type and stream id, and the same delta again.
          stream.timestamp = (stream.timestamp + stream.delta) >>> 0;
      }
      if (fmt !== 3) stream.extended = extended;
      const limit = this.#maxMessageLength(stream.type);
      if (stream.length > limit) {
        throw new RtmpProtocolError(`message of type ${stream.type} declares ${stream.length} bytes (limit ${limit})`);
      }
      if (stream.length === 0) {
        this.#emit(stream, EMPTY);
        return p - off;
      }
      stream.active = true;
      stream.received = 0;
    }
    // fmt 3 continuing a message carries no new fields (and its extended timestamp, if any, was skipped).
    this.#current = stream;
    this.#chunkLeft = Math.min(this.chunkSize, stream.length - stream.received);
    return p - off;
  }

  #append(stream: ChunkStream, data: Buffer, pos: number, n: number): void {
    this.#buffered += n;
    if (this.#buffered > this.maxBufferedBytes) {
      throw new RtmpProtocolError(`more than ${this.maxBufferedBytes} bytes in unfinished messages`);
    }
    const needed = stream.received + n;
    let body = stream.body;
    if (!body) {
      body = Buffer.allocUnsafe(Math.min(stream.length, Math.max(INITIAL_BODY_CAPACITY, n)));
      stream.body = body;
    } else if (needed > body.length) {
      const grown = Buffer.allocUnsafe(Math.min(stream.length, Math.max(needed, body.length * 2)));
      body.copy(grown, 0, 0, stream.received);
      body = grown;
      stream.body = body;
    }
    data.copy(body, stream.received, pos, pos + n);
    stream.received = needed;
  }

  #complete(stream: ChunkStream): void {
    const payload = stream.body ?? EMPTY;
    this.#buffered -= stream.received;
    stream.body = null;
    stream.active = false;
    stream.received = 0;
    this.#emit(stream, payload);
  }

  #emit(stream: ChunkStream, payload: Buffer): void {
    this.#onMessage({
      csid: stream.csid,
      type: stream.type,
      streamId: stream.streamId,
      timestamp: stream.timestamp,
      payload,
    });
  }

  #discard(stream: ChunkStream): void {
    this.#buffered -= stream.received;
    stream.body = null;
    stream.active = false;
    stream.received = 0;
  }
}
