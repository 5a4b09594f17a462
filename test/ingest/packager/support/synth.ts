/**
 * Synthetic RTMP media for packager tests: real AVC/AAC sequence headers (hand-built SPS) and frames whose
 * bytes are opaque, interleaved the way OBS and ffmpeg send them.
 */

class BitWriter {
  private bits: number[] = [];
  u(n: number, v: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(v / 2 ** i) % 2);
    return this;
  }
  ue(v: number): this {
    const len = Math.floor(Math.log2(v + 1));
    this.u(len, 0);
    return this.u(len + 1, v + 1);
  }
  bytes(): Buffer {
    const bits = [...this.bits, 1];
    while (bits.length % 8) bits.push(0);
    const out = Buffer.alloc(bits.length / 8);
    bits.forEach((b, i) => {
      out[i >> 3] |= b << (7 - (i & 7));
    });
    return out;
  }
}

export interface SpsSpec {
  profile?: number;
  level?: number;
  width: number;
  height: number;
  fps?: number;
}

/** An SPS NAL unit (with header) for the given size; cropping is used when the size is not a multiple of 16. */
export function buildSps(spec: SpsSpec): Buffer {
  const profile = spec.profile ?? 100;
  const w = new BitWriter()
    .u(8, profile)
    .u(8, 0)
    .u(8, spec.level ?? 31)
    .ue(0);
  if (profile === 100) w.ue(1).ue(0).ue(0).u(1, 0).u(1, 0);
  w.ue(0).ue(0).ue(4); // log2_max_frame_num-4, poc type 0, log2_max_poc_lsb-4
  w.ue(4).u(1, 0); // max_num_ref_frames, gaps
  const mbW = Math.ceil(spec.width / 16);
  const mbH = Math.ceil(spec.height / 16);
  w.ue(mbW - 1)
    .ue(mbH - 1)
    .u(1, 1)
    .u(1, 1);
  const cropR = (mbW * 16 - spec.width) / 2;
  const cropB = (mbH * 16 - spec.height) / 2;
  if (cropR || cropB) w.u(1, 1).ue(0).ue(cropR).ue(0).ue(cropB);
  else w.u(1, 0);
  if (spec.fps) {
    w.u(1, 1)
      .u(1, 0)
      .u(1, 0)
      .u(1, 0)
      .u(1, 0)
      .u(1, 1)
      .u(32, 1)
      .u(32, spec.fps * 2)
      .u(1, 1);
    w.u(1, 0).u(1, 0).u(1, 0); // nal/vcl hrd, pic_struct
    w.u(1, 0); // bitstream_restriction
  } else w.u(1, 0);
  return Buffer.concat([Buffer.from([0x67]), w.bytes()]);
}

/** AVCDecoderConfigurationRecord for an SPS and a dummy PPS. */
export function avcRecord(sps: Buffer, lengthSize = 4): Buffer {
  const pps = Buffer.from([0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0]);
  return Buffer.concat([
    Buffer.from([1, sps[1], sps[2], sps[3], 0xfc | (lengthSize - 1), 0xe1]),
    u16(sps.length),
    sps,
    Buffer.from([1]),
    u16(pps.length),
    pps,
  ]);
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

/** FLV video tag body: AVC sequence header. */
export function avcSequenceTag(record: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), record]);
}

/** FLV video tag body: one AVC frame of `size` bytes (one NALU) with a composition offset in ms. */
export function avcFrameTag(key: boolean, ctoMs: number, size: number, lengthSize = 4, fill = 0x5a): Buffer {
  const nalLen = size - lengthSize;
  const body = Buffer.alloc(5 + size, fill);
  body[0] = key ? 0x17 : 0x27;
  body[1] = 1;
  body.writeIntBE(ctoMs, 2, 3);
  body.writeUIntBE(nalLen, 5, lengthSize);
  body[5 + lengthSize] = key ? 0x65 : 0x41;
  return body;
}

/** AudioSpecificConfig for AAC-LC. */
export function aacConfig(sampleRate: number, channels = 2): Buffer {
  const idx = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000].indexOf(sampleRate);
  if (idx < 0) throw new Error(`rate ${sampleRate}`);
  const v = (2 << 11) | (idx << 7) | (channels << 3);
  return Buffer.from([v >> 8, v & 0xff]);
}

export function aacSequenceTag(asc: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xaf, 0]), asc]);
}

export function aacFrameTag(size: number): Buffer {
  const b = Buffer.alloc(2 + size, 0x21);
  b[0] = 0xaf;
  b[1] = 1;
  return b;
}

export interface Message {
  readonly type: number;
  /** Raw 32-bit RTMP timestamp. */
  readonly timestamp: number;
  readonly payload: Buffer;
  /** Media time relative to the start, ms (unwrapped). */
  readonly mediaMs: number;
}

export interface FeedSpec {
  seconds: number;
  video?: { fps: number; gopFrames: number; bitrate: number; bframes?: number; width?: number; height?: number } | false;
  audio?: { sampleRate: number; bitrate?: number } | false;
  /** Raw timestamp of the first message (to test wraps). */
  startTimestamp?: number;
  /** Audio sent this many ms ahead (positive) or behind (negative) of video of the same time. */
  audioSkewMs?: number;
}

/** A feed of messages in send order: sequence headers first, then frames interleaved by send time. */
export function feed(spec: FeedSpec): Message[] {
  const start = spec.startTimestamp ?? 0;
  const out: { sendAt: number; msg: Message }[] = [];
  const msg = (type: number, mediaMs: number, payload: Buffer): Message => ({
    type,
    timestamp: (start + Math.round(mediaMs)) >>> 0,
    payload,
    mediaMs: Math.round(mediaMs),
  });
  const v = spec.video === undefined ? { fps: 30, gopFrames: 60, bitrate: 3_000_000 } : spec.video;
  const a = spec.audio === undefined ? { sampleRate: 48000 } : spec.audio;
  if (v) {
    const sps = buildSps({ width: v.width ?? 1280, height: v.height ?? 720, fps: v.fps });
    out.push({ sendAt: -2, msg: msg(9, 0, avcSequenceTag(avcRecord(sps))) });
  }
  if (a) out.push({ sendAt: -1, msg: msg(8, 0, aacSequenceTag(aacConfig(a.sampleRate))) });
  if (v) {
    const frames = Math.round(spec.seconds * v.fps);
    const bf = v.bframes ?? 0;
    const avg = Math.round(v.bitrate / 8 / v.fps);
    for (let i = 0; i < frames; i++) {
      const key = i % v.gopFrames === 0;
      // Decode order with B-frames: the composition offset of the reference frames is (bf) frames ahead.
      const isB = bf > 0 && !key && i % (bf + 1) !== 0;
      const cto = bf > 0 ? Math.round(((isB ? 0 : bf) * 1000) / v.fps) : 0;
      const dts = (i * 1000) / v.fps;
      const size = key ? avg * 4 : Math.max(64, Math.round(avg * (isB ? 0.6 : 0.9)));
      out.push({ sendAt: dts, msg: msg(9, dts, avcFrameTag(key, cto, size)) });
    }
  }
  if (a) {
    const spf = 1024;
    const frames = Math.floor((spec.seconds * a.sampleRate) / spf);
    const size = Math.round(((a.bitrate ?? 128_000) / 8) * (spf / a.sampleRate));
    for (let i = 0; i < frames; i++) {
      const t = (i * spf * 1000) / a.sampleRate;
      out.push({ sendAt: t - (spec.audioSkewMs ?? 0), msg: msg(8, t, aacFrameTag(size)) });
    }
  }
  out.sort((x, y) => x.sendAt - y.sendAt);
  return out.map((x) => x.msg);
}
