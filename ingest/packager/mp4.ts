/**
 * A focused ISO BMFF (ISO/IEC 14496-12) writer for CMAF: the init segment (ftyp + moov) and fragments
 * (moof + mdat). Shaped like mediacommon's fmp4 `Init`/`Part` values and hls.js's mp4-generator box order, but
 * written from the spec, with no allocation per box: a fragment's exact size is computed first and every box is
 * written into that one Buffer.
 */
import type { AacConfig, AvcConfig } from './codecs.js';

/** Writes big-endian fields into a Buffer; boxes are opened with `begin` and sized by `end`. */
export class BoxWriter {
  pos = 0;

  constructor(
    public buf: Buffer,
    private readonly growable = false,
  ) {}

  private need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (!this.growable) throw new RangeError(`box writer overflow at ${this.pos} + ${n} of ${this.buf.length}`);
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.need(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.need(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
  }

  u24(v: number): void {
    this.need(3);
    this.buf.writeUIntBE(v & 0xffffff, this.pos, 3);
    this.pos += 3;
  }

  u32(v: number): void {
    this.need(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  i32(v: number): void {
    this.need(4);
    this.buf.writeInt32BE(v | 0, this.pos);
    this.pos += 4;
  }

  /** An unsigned 64-bit value from a non-negative safe integer. */
  u64(v: number): void {
    this.u32(Math.floor(v / 0x100000000));
    this.u32(v % 0x100000000);
  }

  zeros(n: number): void {
    this.need(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  fourcc(s: string): void {
    this.need(4);
    this.buf.write(s, this.pos, 4, 'latin1');
    this.pos += 4;
  }

  bytes(b: Uint8Array): void {
    this.need(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Opens a box; returns its start for `end`. */
  begin(type: string): number {
    const start = this.pos;
    this.u32(0);
    this.fourcc(type);
    return start;
  }

  /** Opens a full box (version and flags). */
  beginFull(type: string, version: number, flags: number): number {
    const start = this.begin(type);
    this.u8(version);
    this.u24(flags);
    return start;
  }

  end(start: number): void {
    this.buf.writeUInt32BE(this.pos - start, start);
  }

  /** The written bytes (a view, not a copy). */
  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** One track of an init segment. */
export type InitTrack =
  | { readonly id: number; readonly kind: 'video'; readonly timescale: number; readonly config: AvcConfig }
  | { readonly id: number; readonly kind: 'audio'; readonly timescale: number; readonly config: AacConfig };

const MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];

function matrix(w: BoxWriter): void {
  for (const v of MATRIX) w.u32(v);
}

/** Builds `ftyp` + `moov` for the given tracks (one sample entry each; empty sample tables; `mvex`/`trex`). */
export function writeInit(tracks: readonly InitTrack[]): Buffer {
  const w = new BoxWriter(Buffer.alloc(1024), true);
  const ftyp = w.begin('ftyp');
  w.fourcc('iso6');
  w.u32(0);
  for (const b of ['iso6', 'cmfc', 'isom', 'mp41']) w.fourcc(b);
  w.end(ftyp);

  const moov = w.begin('moov');
  const mvhd = w.beginFull('mvhd', 0, 0);
  w.u32(0); // creation_time
  w.u32(0); // modification_time
  w.u32(1000); // timescale
  w.u32(0); // duration
  w.u32(0x00010000); // rate
  w.u16(0x0100); // volume
  w.zeros(10);
  matrix(w);
  w.zeros(24); // pre_defined
  w.u32(Math.max(0, ...tracks.map((t) => t.id)) + 1); // next_track_ID
  w.end(mvhd);

  for (const t of tracks) writeTrak(w, t);

  const mvex = w.begin('mvex');
  for (const t of tracks) {
    const trex = w.beginFull('trex', 0, 0);
    w.u32(t.id);
    w.u32(1); // default_sample_description_index
    w.u32(0);
    w.u32(0);
    w.u32(0);
    w.end(trex);
  }
  w.end(mvex);
  w.end(moov);
  return Buffer.from(w.result());
}

function writeTrak(w: BoxWriter, t: InitTrack): void {
  const video = t.kind === 'video';
  const trak = w.begin('trak');
  const tkhd = w.beginFull('tkhd', 0, 3); // enabled, in movie
  w.u32(0);
  w.u32(0);
  w.u32(t.id);
  w.u32(0); // reserved
  w.u32(0); // duration
  w.zeros(8);
  w.u16(0); // layer
  w.u16(0); // alternate_group
  w.u16(video ? 0 : 0x0100); // volume
  w.u16(0);
  matrix(w);
  w.u32(video ? t.config.width * 0x10000 : 0);
  w.u32(video ? t.config.height * 0x10000 : 0);
  w.end(tkhd);

  const mdia = w.begin('mdia');
  const mdhd = w.beginFull('mdhd', 0, 0);
  w.u32(0);
  w.u32(0);
  w.u32(t.timescale);
  w.u32(0);
  w.u16(0x55c4); // language 'und'
  w.u16(0);
  w.end(mdhd);
  const hdlr = w.beginFull('hdlr', 0, 0);
  w.u32(0);
  w.fourcc(video ? 'vide' : 'soun');
  w.zeros(12);
  w.bytes(Buffer.from(video ? 'VideoHandler\0' : 'SoundHandler\0', 'latin1'));
  w.end(hdlr);

  const minf = w.begin('minf');
  if (video) {
    const vmhd = w.beginFull('vmhd', 0, 1);
    w.zeros(8);
    w.end(vmhd);
  } else {
    const smhd = w.beginFull('smhd', 0, 0);
    w.zeros(4);
    w.end(smhd);
  }
  const dinf = w.begin('dinf');
  const dref = w.beginFull('dref', 0, 0);
  w.u32(1);
  const url = w.beginFull('url ', 0, 1); // self-contained
  w.end(url);
  w.end(dref);
  w.end(dinf);

  const stbl = w.begin('stbl');
  const stsd = w.beginFull('stsd', 0, 0);
  w.u32(1);
  if (t.kind === 'video') writeAvc1(w, t.config);
  else writeMp4a(w, t.config);
  w.end(stsd);
  for (const type of ['stts', 'stsc', 'stco']) {
    const b = w.beginFull(type, 0, 0);
    w.u32(0);
    w.end(b);
  }
  const stsz = w.beginFull('stsz', 0, 0);
  w.u32(0);
  w.u32(0);
  w.end(stsz);
  w.end(stbl);
  w.end(minf);
  w.end(mdia);
  w.end(trak);
}

function writeAvc1(w: BoxWriter, c: AvcConfig): void {
  const avc1 = w.begin('avc1');
  w.zeros(6);
  w.u16(1); // data_reference_index
  w.zeros(16); // pre_defined, reserved, pre_defined[3]
  w.u16(c.width);
  w.u16(c.height);
  w.u32(0x00480000); // 72 dpi
  w.u32(0x00480000);
  w.u32(0);
  w.u16(1); // frame_count
  w.zeros(32); // compressorname
  w.u16(0x0018); // depth
  w.u16(0xffff); // pre_defined = -1
  const avcC = w.begin('avcC');
  w.bytes(c.record);
  w.end(avcC);
  w.end(avc1);
}

/** An MPEG-4 descriptor header with a 4-byte length (valid for any size up to 2^28). */
function descriptor(w: BoxWriter, tag: number, length: number): void {
  w.u8(tag);
  w.u8(0x80 | ((length >>> 21) & 0x7f));
  w.u8(0x80 | ((length >>> 14) & 0x7f));
  w.u8(0x80 | ((length >>> 7) & 0x7f));
  w.u8(length & 0x7f);
}

function writeMp4a(w: BoxWriter, c: AacConfig): void {
  const mp4a = w.begin('mp4a');
  w.zeros(6);
  w.u16(1); // data_reference_index
  w.zeros(8);
  w.u16(c.channels);
  w.u16(16); // samplesize
  w.u32(0); // pre_defined, reserved
  w.u32(c.sampleRate <= 0xffff ? c.sampleRate * 0x10000 : 0);
  const esds = w.beginFull('esds', 0, 0);
  const asc = c.record.length;
  const decSpecific = 5 + asc;
  const decConfig = 13 + decSpecific;
  const sl = 5 + 1;
  descriptor(w, 0x03, 3 + 5 + decConfig + sl); // ES_Descriptor
  w.u16(0); // ES_ID
  w.u8(0); // flags
  descriptor(w, 0x04, decConfig); // DecoderConfigDescriptor
  w.u8(0x40); // objectTypeIndication: MPEG-4 Audio
  w.u8(0x15); // streamType audio (5) << 2 | reserved 1
  w.u24(0); // bufferSizeDB
  w.u32(0); // maxBitrate
  w.u32(0); // avgBitrate
  descriptor(w, 0x05, asc); // DecoderSpecificInfo
  w.bytes(c.record);
  descriptor(w, 0x06, 1); // SLConfigDescriptor
  w.u8(0x02);
  w.end(esds);
  w.end(mp4a);
}

/** Sample flags (ISO/IEC 14496-12 §8.8.3.1): a sync sample depends on no other; a non-sync one does. */
export const SAMPLE_FLAGS_SYNC = 0x02000000;
export const SAMPLE_FLAGS_NON_SYNC = 0x01010000;

/**
 * One track's run of samples inside a fragment, as parallel arrays (no object per sample). `data[i]` is
 * written as-is, unless `nalLengthSize` is 1 or 2, in which case its NALU lengths are widened to 4 bytes and
 * `size[i]` must already count that.
 */
export interface FragmentRun {
  readonly trackId: number;
  /** tfdt: decode time of the first sample, in the track timescale. */
  readonly baseDecodeTime: number;
  readonly count: number;
  readonly duration: ArrayLike<number>;
  readonly size: ArrayLike<number>;
  readonly sync: ArrayLike<number>;
  /** Composition offsets (PTS − DTS) in the track timescale; undefined for audio. */
  readonly cto?: ArrayLike<number>;
  readonly data: readonly Buffer[];
  readonly nalLengthSize: number;
  /** Index of the first sample in the arrays above. */
  readonly first: number;
}

const TRUN_DATA_OFFSET = 0x1;
const TRUN_DURATION = 0x100;
const TRUN_SIZE = 0x200;
const TRUN_FLAGS = 0x400;
const TRUN_CTO = 0x800;

function trafSize(r: FragmentRun): number {
  const perSample = r.cto ? 16 : 12;
  // traf 8 + tfhd 16 + tfdt(v1) 20 + trun header 20
  return 8 + 16 + 20 + 20 + perSample * r.count;
}

/** Size of `moof` + `mdat` for the runs. */
export function fragmentSize(runs: readonly FragmentRun[]): number {
  let size = 8 + 16 + 8;
  for (const r of runs) {
    if (r.count === 0) continue;
    size += trafSize(r);
    for (let i = r.first; i < r.first + r.count; i++) size += r.size[i];
  }
  return size;
}

/** Writes one `moof` (sequence number `seq`) + `mdat` into a Buffer of exactly the right size. */
export function writeFragment(seq: number, runs: readonly FragmentRun[]): Buffer {
  const total = fragmentSize(runs);
  const w = new BoxWriter(Buffer.allocUnsafe(total));
  const moof = w.begin('moof');
  const mfhd = w.beginFull('mfhd', 0, 0);
  w.u32(seq);
  w.end(mfhd);
  let moofSize = 8 + 16;
  for (const r of runs) if (r.count > 0) moofSize += trafSize(r);
  let dataOffset = moofSize + 8;
  for (const r of runs) {
    if (r.count === 0) continue;
    const traf = w.begin('traf');
    const tfhd = w.beginFull('tfhd', 0, 0x020000); // default-base-is-moof
    w.u32(r.trackId);
    w.end(tfhd);
    const tfdt = w.beginFull('tfdt', 1, 0);
    w.u64(r.baseDecodeTime);
    w.end(tfdt);
    let negative = false;
    if (r.cto) for (let i = r.first; i < r.first + r.count; i++) if (r.cto[i] < 0) negative = true;
    const flags = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | TRUN_FLAGS | (r.cto ? TRUN_CTO : 0);
    const trun = w.beginFull('trun', negative ? 1 : 0, flags);
    w.u32(r.count);
    w.i32(dataOffset);
    for (let i = r.first; i < r.first + r.count; i++) {
      w.u32(r.duration[i]);
      w.u32(r.size[i]);
      w.u32(r.sync[i] ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_NON_SYNC);
      if (r.cto) w.i32(r.cto[i]);
      dataOffset += r.size[i];
    }
    w.end(trun);
    w.end(traf);
  }
  w.end(moof);
  const mdat = w.begin('mdat');
  for (const r of runs) {
    for (let i = r.first; i < r.first + r.count; i++) {
      if (r.nalLengthSize === 4) w.bytes(r.data[i]);
      else widenNalLengths(w, r.data[i], r.nalLengthSize);
    }
  }
  w.end(mdat);
  if (w.pos !== total) throw new Error(`fragment size ${w.pos} differs from the computed ${total}`);
  return w.buf;
}

function widenNalLengths(w: BoxWriter, data: Buffer, lengthSize: number): void {
  let pos = 0;
  while (pos < data.length) {
    const len = lengthSize === 1 ? data[pos] : data.readUInt16BE(pos);
    pos += lengthSize;
    w.u32(len);
    w.bytes(data.subarray(pos, pos + len));
    pos += len;
  }
}
