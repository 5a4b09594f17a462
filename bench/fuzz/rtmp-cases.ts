/**
 * Hostile RTMP inputs for the fuzz harness (bench/fuzz/rtmp.ts), built from the server's own building blocks
 * (chunk writer, AMF0 encoder, handshake digests) so that valid prefixes really are valid and the garbage
 * lands where it hurts: in the handshake, in chunk headers, in protocol control, in AMF0, after `publish`.
 *
 * Every case is deterministic for a seed. A case is a list of writes (with optional pauses) and how the
 * client finishes: FIN (`end`), reset (`destroy`), or wait for the server to close (`wait`).
 */
import { encodeAmf0, Amf0Marker, type Amf0Value } from '../../ingest/rtmp/amf0';
import { ChunkWriter } from '../../ingest/rtmp/chunk-writer';
import { blockDigest, digestOffset, FLASH_PLAYER_KEY, HANDSHAKE_SIZE, RTMP_VERSION } from '../../ingest/rtmp/handshake';
import { MessageType } from '../../ingest/rtmp/messages';

export const CATEGORIES = [
  'random-bytes',
  'truncated-handshake',
  'invalid-handshake',
  'absurd-chunk-size',
  'unknown-message-type',
  'huge-amf',
  'handshake-then-garbage',
  'mutated-session',
  'wrong-key',
  'slow-drip',
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface FuzzStep {
  readonly bytes?: Buffer;
  /** Pause before the next step. */
  readonly delayMs?: number;
}

export interface FuzzCase {
  readonly id: number;
  readonly category: Category;
  /** What the case does, for reports. */
  readonly label: string;
  readonly steps: readonly FuzzStep[];
  readonly finish: 'end' | 'destroy' | 'wait';
  /** Stream keys this case sends (never the honest one): none may show up in a log line. */
  readonly secrets: readonly string[];
}

/** mulberry32: small, fast, good enough to spread cases; seeded so every run can be replayed. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    let i = 0;
    while (i + 4 <= n) {
      b.writeUInt32LE(Math.floor(this.next() * 4294967296), i);
      i += 4;
    }
    for (; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }
  /** A stream-key-shaped secret: `kf_` + 32 base64url characters. */
  key(): string {
    return `kf_${this.bytes(24).toString('base64url')}`;
  }
}

// ---- valid building blocks ----

function c1(rng: Rng, digest: boolean): Buffer {
  const block = rng.bytes(HANDSHAKE_SIZE);
  block.writeUInt32BE(0, 0);
  if (!digest) {
    block.writeUInt32BE(0, 4);
    return block;
  }
  block.writeUInt32BE(0x80000702, 4); // a Flash Player version: the FP9 digest form
  const scheme = rng.bool() ? 0 : 1;
  const offset = digestOffset(block, scheme);
  blockDigest(block, offset, FLASH_PLAYER_KEY.subarray(0, 30)).copy(block, offset);
  return block;
}

/** C0 + C1 + C2, sent without waiting: the server does not check C2, so this completes the handshake. */
export function handshake(rng: Rng): Buffer {
  return Buffer.concat([Buffer.from([RTMP_VERSION]), c1(rng, rng.bool()), rng.bytes(HANDSHAKE_SIZE)]);
}

/** Encodes messages the way a client would, chunked at the writer's chunk size. */
export class Transcript {
  readonly writer = new ChunkWriter({ compress: true });
  readonly parts: Buffer[] = [];
  message(csid: number, type: number, payload: Buffer, streamId = 0, timestamp = 0): this {
    this.parts.push(this.writer.encode({ csid, type, streamId, timestamp, payload }));
    return this;
  }
  command(name: string, tx: number, args: Amf0Value[], streamId = 0, csid = 3): this {
    return this.message(csid, MessageType.CommandAmf0, encodeAmf0(name, tx, ...args), streamId);
  }
  setChunkSize(size: number, apply = true): this {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(size >>> 0);
    this.message(2, MessageType.SetChunkSize, p);
    if (apply) this.writer.chunkSize = size;
    return this;
  }
  connect(app: Amf0Value = 'live', extra: Record<string, Amf0Value> = {}): this {
    return this.command('connect', 1, [
      { app, type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; fuzz)', tcUrl: 'rtmp://127.0.0.1/live', ...extra },
    ]);
  }
  publishSequence(key: Amf0Value): this {
    return this.command('releaseStream', 2, [null, key])
      .command('FCPublish', 3, [null, key])
      .command('createStream', 4, [null])
      .command('publish', 5, [null, key, 'live'], 1, 4);
  }
  media(count: number, rng: Rng): this {
    for (let i = 0; i < count; i++) {
      const video = rng.bool();
      this.message(video ? 6 : 4, video ? MessageType.Video : MessageType.Audio, rng.bytes(rng.int(1, 600)), 1, i * 33);
    }
    return this;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Splits a buffer into 1..n writes at random points, with short pauses: TCP boundaries anywhere. */
function pieces(rng: Rng, buf: Buffer, maxPieces = 4, maxDelayMs = 20): FuzzStep[] {
  const n = Math.min(buf.length, rng.int(1, maxPieces));
  if (n <= 1) return [{ bytes: buf }];
  const cuts = new Set<number>();
  while (cuts.size < n - 1) cuts.add(rng.int(1, buf.length - 1));
  const sorted = [...cuts].sort((a, b) => a - b);
  const steps: FuzzStep[] = [];
  let prev = 0;
  for (const c of [...sorted, buf.length]) {
    steps.push({ bytes: buf.subarray(prev, c), delayMs: rng.int(0, maxDelayMs) });
    prev = c;
  }
  return steps;
}

function finishOf(rng: Rng, pWait = 0.2): FuzzCase['finish'] {
  const r = rng.next();
  return r < pWait ? 'wait' : r < pWait + (1 - pWait) / 2 ? 'end' : 'destroy';
}

/** A raw chunk header (fmt 0) declaring `length` bytes of `type`, without the body. */
function rawHeader(csid: number, length: number, type: number, timestamp = 0): Buffer {
  const b = Buffer.alloc(12);
  b[0] = csid & 0x3f;
  b.writeUIntBE(Math.min(timestamp, 0xffffff), 1, 3);
  b.writeUIntBE(length & 0xffffff, 4, 3);
  b[7] = type & 0xff;
  b.writeUInt32LE(0, 8);
  return b;
}

/** Hand-written AMF0 that lies about its lengths or nests too deep. */
function hostileAmf(rng: Rng): { label: string; payload: Buffer } {
  switch (rng.int(0, 7)) {
    case 0: {
      const depth = rng.int(17, 2000);
      const open = Buffer.alloc(depth * 4);
      for (let i = 0; i < depth; i++) {
        open[i * 4] = Amf0Marker.Object;
        open.writeUInt16BE(1, i * 4 + 1);
        open[i * 4 + 3] = 0x61; // key "a"
      }
      return { label: `object nested ${depth} deep`, payload: Buffer.concat([encodeAmf0('connect', 1), open]) };
    }
    case 1: {
      const b = Buffer.alloc(5);
      b[0] = Amf0Marker.LongString;
      b.writeUInt32BE(rng.int(0x100000, 0xffffffff), 1);
      return { label: 'long string claiming gigabytes', payload: Buffer.concat([encodeAmf0('connect', 1), b, rng.bytes(rng.int(0, 64))]) };
    }
    case 2: {
      const b = Buffer.alloc(5);
      b[0] = Amf0Marker.StrictArray;
      b.writeUInt32BE(rng.int(0x10000, 0xffffffff), 1);
      return { label: 'strict array claiming billions of items', payload: Buffer.concat([encodeAmf0('connect', 1), b]) };
    }
    case 3: {
      const b = Buffer.alloc(5);
      b[0] = Amf0Marker.EcmaArray;
      b.writeUInt32BE(0xffffffff, 1);
      return {
        label: 'ECMA array with an absurd count and no end',
        payload: Buffer.concat([encodeAmf0('connect', 1), b, rng.bytes(rng.int(0, 200))]),
      };
    }
    case 4: {
      const obj: Record<string, Amf0Value> = {};
      const n = rng.int(1000, 6000);
      for (let i = 0; i < n; i++) obj[`k${i}`] = i;
      return { label: `object with ${n} properties`, payload: encodeAmf0('connect', 1, { app: 'live', ...obj }) };
    }
    case 5: {
      const s = Buffer.alloc(3);
      s[0] = Amf0Marker.String;
      s.writeUInt16BE(0xffff, 1);
      return { label: 'string longer than its message', payload: Buffer.concat([s, rng.bytes(rng.int(0, 100))]) };
    }
    case 6: {
      const markers = [
        Amf0Marker.MovieClip,
        Amf0Marker.Reference,
        Amf0Marker.RecordSet,
        Amf0Marker.XmlDocument,
        Amf0Marker.TypedObject,
        Amf0Marker.AvmPlus,
        0x12,
        0xff,
      ];
      return {
        label: 'unsupported markers',
        payload: Buffer.concat([encodeAmf0('connect', 1), Buffer.from([rng.pick(markers)]), rng.bytes(rng.int(0, 300))]),
      };
    }
    default: {
      const big = 'x'.repeat(rng.int(40_000, 63_000));
      return { label: 'command with a huge string argument', payload: encodeAmf0('connect', 1, { app: big, tcUrl: big.slice(0, 20_000) }) };
    }
  }
}

/** Flip, insert, delete or duplicate a few bytes of `buf` at and after `from`. */
function mutate(rng: Rng, buf: Buffer, from: number): Buffer {
  const out = Buffer.from(buf);
  const parts: Buffer[] = [];
  const n = rng.int(1, 6);
  let b = out;
  for (let i = 0; i < n; i++) {
    if (b.length <= from) break;
    const at = rng.int(from, b.length - 1);
    switch (rng.int(0, 4)) {
      case 0:
        b[at] ^= 1 << rng.int(0, 7);
        break;
      case 1:
        b[at] = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x03, 0x02, 0xc3, 0x43]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 16)), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 32)))]);
        break;
      default:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + rng.int(1, 64)), b.subarray(at)]);
    }
  }
  parts.push(b);
  return Buffer.concat(parts);
}

// ---- the categories ----

type Generator = (rng: Rng, ctx: FuzzContext) => Omit<FuzzCase, 'id' | 'category'>;

export interface FuzzContext {
  /** The honest publisher's key: cases put look-alikes of it in wrong places, never the key itself. */
  readonly honestKey: string;
}

const generators: Record<Category, Generator> = {
  'random-bytes': (rng) => {
    const n = rng.pick([1, 2, 7, 64, 1536, 1537, 3073, rng.int(1, 16384)]);
    const bytes = rng.bytes(n);
    if (rng.bool(0.3)) bytes[0] = RTMP_VERSION; // make it past the version check sometimes
    return { label: `${n} random bytes`, steps: pieces(rng, bytes), finish: finishOf(rng), secrets: [] };
  },

  'truncated-handshake': (rng) => {
    const full = handshake(rng);
    const cut = rng.pick([0, 1, rng.int(2, 1536), 1537, rng.int(1538, 3072)]);
    const steps = cut === 0 ? [] : pieces(rng, full.subarray(0, cut));
    return { label: `handshake cut after ${cut} of ${full.length} bytes`, steps, finish: finishOf(rng, 0.35), secrets: [] };
  },

  'invalid-handshake': (rng) => {
    const version = rng.pick([0, 1, 2, 4, 6, 8, 0x16 /* TLS */, 0x47 /* "GET" */, 0xff]);
    const kind = rng.int(0, 3);
    if (kind === 0) {
      return {
        label: `version ${version}`,
        steps: pieces(rng, Buffer.concat([Buffer.from([version]), rng.bytes(1536)])),
        finish: finishOf(rng),
        secrets: [],
      };
    }
    if (kind === 1) {
      const http = Buffer.from(`GET /live/${rng.key()} HTTP/1.1\r\nHost: x\r\n\r\n`);
      return {
        label: 'an HTTP request on the RTMP port',
        steps: [{ bytes: http }],
        finish: finishOf(rng),
        secrets: [http.toString().split(' ')[1].slice(6)],
      };
    }
    if (kind === 2) {
      // Version 3 with a C1 whose digest is almost right: must fall back to the plain form, not fail.
      const block = c1(rng, true);
      block[rng.int(8, 1535)] ^= 0xff;
      return {
        label: 'corrupt FP9 digest, then garbage',
        steps: [{ bytes: Buffer.concat([Buffer.from([3]), block, rng.bytes(rng.int(0, 4000))]) }],
        finish: finishOf(rng),
        secrets: [],
      };
    }
    // C0 C1, then a second C0 C1 instead of C2, then chunks.
    return {
      label: 'handshake repeated',
      steps: [{ bytes: Buffer.concat([handshake(rng).subarray(0, 1537), handshake(rng), rng.bytes(rng.int(0, 512))]) }],
      finish: finishOf(rng),
      secrets: [],
    };
  },

  'absurd-chunk-size': (rng) => {
    const size = rng.pick([0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x1000000, 0xffffff, rng.int(0, 0xffffffff)]);
    const t = new Transcript().connect();
    const apply = size >= 1 && size <= 0xffffff;
    t.setChunkSize(size, apply);
    if (rng.bool()) t.publishSequence(rng.key());
    else t.media(rng.int(1, 20), rng);
    const body = Buffer.concat([handshake(rng), t.bytes()]);
    return { label: `Set Chunk Size ${size}`, steps: pieces(rng, body, 3), finish: finishOf(rng, 0.3), secrets: [] };
  },

  'unknown-message-type': (rng) => {
    const t = new Transcript().connect();
    const types = [0, 7, 10, 11, 12, 13, 14, 16, 19, 21, 23, 24, 32, 64, 127, 128, 200, 255];
    const n = rng.int(1, 30);
    for (let i = 0; i < n; i++) t.message(rng.int(3, 70), rng.pick(types), rng.bytes(rng.int(0, 2000)), rng.int(0, 3));
    // Control types with the wrong sizes too.
    if (rng.bool(0.5)) t.message(2, rng.int(1, 6), rng.bytes(rng.pick([0, 1, 3, 5, 65, 200])));
    return {
      label: `${n} messages of unknown types`,
      steps: pieces(rng, Buffer.concat([handshake(rng), t.bytes()]), 3),
      finish: finishOf(rng, 0.3),
      secrets: [],
    };
  },

  'huge-amf': (rng) => {
    const kind = rng.int(0, 3);
    if (kind === 0) {
      // A header declaring a message far over the command limit.
      const length = rng.pick([65_537, 1_000_000, 8 * 1024 * 1024, 0xffffff]);
      const body = Buffer.concat([handshake(rng), rawHeader(3, length, MessageType.CommandAmf0), rng.bytes(rng.int(0, 4096))]);
      return { label: `command declaring ${length} bytes`, steps: pieces(rng, body, 3), finish: finishOf(rng), secrets: [] };
    }
    if (kind === 1) {
      // Many chunk streams each holding part of a message: the unfinished-bytes cap must hold.
      const parts: Buffer[] = [handshake(rng)];
      const streams = rng.int(2, 80);
      for (let i = 0; i < streams; i++) {
        parts.push(rawHeader(3 + (i % 60), 60_000, MessageType.CommandAmf0), rng.bytes(128));
      }
      return {
        label: `${streams} chunk streams of unfinished 60 kB commands`,
        steps: pieces(rng, Buffer.concat(parts), 4),
        finish: finishOf(rng),
        secrets: [],
      };
    }
    const { label, payload } = hostileAmf(rng);
    const t = new Transcript();
    if (kind === 3 && payload.length < 60_000)
      t.connect()
        .command('createStream', 2, [null])
        .message(3, rng.pick([MessageType.CommandAmf0, MessageType.CommandAmf3, MessageType.DataAmf0]), payload, 1);
    else t.message(3, MessageType.CommandAmf0, payload.subarray(0, 0xffffff));
    return { label, steps: pieces(rng, Buffer.concat([handshake(rng), t.bytes()]), 4), finish: finishOf(rng, 0.25), secrets: [] };
  },

  'handshake-then-garbage': (rng) => {
    const garbage = rng.bytes(rng.pick([1, 3, 11, 12, 18, rng.int(1, 20_000)]));
    return {
      label: `handshake + ${garbage.length} random bytes`,
      steps: pieces(rng, Buffer.concat([handshake(rng), garbage])),
      finish: finishOf(rng, 0.3),
      secrets: [],
    };
  },

  'mutated-session': (rng) => {
    const key = rng.key();
    const t = new Transcript().connect().publishSequence(key);
    if (rng.bool()) t.media(rng.int(1, 10), rng);
    const hs = handshake(rng);
    const session = Buffer.concat([hs, t.bytes()]);
    const mutated = mutate(rng, session, hs.length);
    return {
      label: 'a publish transcript with bytes flipped, inserted, dropped',
      steps: pieces(rng, mutated, 4),
      finish: finishOf(rng, 0.3),
      secrets: [key],
    };
  },

  'wrong-key': (rng, ctx) => {
    const honest = ctx.honestKey;
    const flipped = `${honest.slice(0, -1)}${honest.endsWith('A') ? 'B' : 'A'}`;
    const choice = rng.int(0, 6);
    const key =
      choice === 0
        ? rng.key()
        : choice === 1
          ? `${honest}X` // contains the real key: refused, and still never logged
          : choice === 2
            ? `X${honest}`
            : choice === 3
              ? flipped
              : choice === 4
                ? 'x'.repeat(rng.int(257, 5000)) // overlong
                : choice === 5
                  ? ''
                  : rng.bytes(rng.int(1, 64)).toString('latin1');
    const t = new Transcript();
    if (rng.bool(0.3)) {
      // The key pasted into the server URL: the app is refused and must not be logged.
      t.connect(`live/${key}`, { tcUrl: `rtmp://127.0.0.1/live/${key}` });
    } else {
      t.connect('live', { tcUrl: rng.bool() ? `rtmp://127.0.0.1/live/${key}` : 'rtmp://127.0.0.1/live' }).publishSequence(key);
      if (rng.bool(0.3)) t.media(rng.int(1, 5), rng);
    }
    const secrets = key.length >= 16 && choice !== 4 ? [key] : [];
    return {
      label: `wrong key (${['random', 'honest+X', 'X+honest', 'one char off', 'overlong', 'empty', 'binary'][choice]})`,
      steps: [{ bytes: Buffer.concat([handshake(rng), t.bytes()]) }],
      finish: rng.bool(0.5) ? 'wait' : 'end',
      secrets,
    };
  },

  'slow-drip': (rng) => {
    // A few bytes at a time, slower than any timeout allows in total: the server must give up, not wait.
    const full = Buffer.concat([handshake(rng), new Transcript().connect().bytes()]);
    const steps: FuzzStep[] = [];
    const each = rng.int(1, 64);
    for (let i = 0; i < Math.min(full.length, 40 * each); i += each) steps.push({ bytes: full.subarray(i, i + each), delayMs: rng.int(40, 120) });
    return { label: `${each} bytes every ~80 ms`, steps, finish: 'wait', secrets: [] };
  },
};

/** Case `id` of a run with `seed`: categories round-robin, so any prefix of a run covers them evenly. */
export function makeCase(seed: number, id: number, ctx: FuzzContext): FuzzCase {
  const category = CATEGORIES[id % CATEGORIES.length];
  const rng = new Rng((seed * 0x9e3779b1 + id * 0x85ebca6b) >>> 0);
  return { id, category, ...generators[category](rng, ctx) };
}
