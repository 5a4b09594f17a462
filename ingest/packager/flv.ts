/**
 * Classification of FLV tag bodies (RTMP message payloads): legacy AVC/AAC (FLV 10.1 annex E) and Enhanced RTMP
 * (veovera enhanced-rtmp v1/v2: the ex-header bit 0x80 with a FourCC). The parser fills one reusable `MediaUnit`
 * per call (no allocation besides the payload view) and throws only `PackagerError`.
 */
import { malformed, unsupportedAudio, unsupportedVideo } from './errors.js';

export type MediaUnitKind =
  | 'video-config'
  | 'video-frame'
  | 'video-end'
  | 'audio-config'
  | 'audio-frame'
  /** Nothing to package: empty tags, video command frames, E-RTMP metadata. */
  | 'ignore';

/** A classified tag; `data` is a view into the payload. */
export interface MediaUnit {
  kind: MediaUnitKind;
  /** Video: the FLV frame type says keyframe. */
  key: boolean;
  /** Video: composition time offset in ms (signed 24-bit). */
  cto: number;
  data: Buffer;
}

export function newMediaUnit(): MediaUnit {
  return { kind: 'ignore', key: false, cto: 0, data: Buffer.alloc(0) };
}

const LEGACY_VIDEO: Record<number, string> = {
  1: 'JPEG',
  2: 'Sorenson H.263',
  3: 'Screen Video',
  4: 'On2 VP6',
  5: 'On2 VP6 with alpha',
  6: 'Screen Video v2',
  12: 'HEVC (non-standard FLV codec id 12)',
  13: 'AV1 (non-standard FLV codec id 13)',
};

const FOURCC_VIDEO: Record<string, string> = { hvc1: 'HEVC', av01: 'AV1', vp09: 'VP9', vp08: 'VP8' };

const LEGACY_AUDIO: Record<number, string> = {
  0: 'Linear PCM',
  1: 'ADPCM',
  2: 'MP3',
  3: 'Linear PCM (little endian)',
  4: 'Nellymoser 16 kHz',
  5: 'Nellymoser 8 kHz',
  6: 'Nellymoser',
  7: 'G.711 A-law',
  8: 'G.711 mu-law',
  11: 'Speex',
  14: 'MP3 8 kHz',
  15: 'device-specific',
};

const FOURCC_AUDIO: Record<string, string> = {
  Opus: 'Opus',
  fLaC: 'FLAC',
  'ac-3': 'AC-3',
  'ec-3': 'E-AC-3',
  '.mp3': 'MP3',
  mp4a: 'AAC (Enhanced RTMP)',
};

function si24(b: Buffer, pos: number): number {
  const v = (b[pos] << 16) | (b[pos + 1] << 8) | b[pos + 2];
  return v & 0x800000 ? v - 0x1000000 : v;
}

function printable(fourcc: string): string {
  return /^[\x20-\x7e]{4}$/.test(fourcc) ? `'${fourcc}'` : `0x${Buffer.from(fourcc, 'latin1').toString('hex')}`;
}

/** Classifies a video tag body into `out`. */
export function parseVideoTag(payload: Buffer, out: MediaUnit): void {
  out.key = false;
  out.cto = 0;
  if (payload.length === 0) {
    out.kind = 'ignore';
    return;
  }
  const b0 = payload[0];
  if (b0 & 0x80) {
    const frameType = (b0 >>> 4) & 7;
    const packetType = b0 & 0x0f;
    if (packetType === 6) throw unsupportedVideo('Multitrack (Enhanced RTMP)');
    if (packetType === 7) throw unsupportedVideo('ModEx (Enhanced RTMP)');
    if (payload.length < 5) throw malformed(`Enhanced RTMP video tag of ${payload.length} bytes is truncated`);
    const fourcc = payload.toString('latin1', 1, 5);
    if (fourcc !== 'avc1') throw unsupportedVideo(FOURCC_VIDEO[fourcc] ?? `FourCC ${printable(fourcc)}`);
    if (frameType === 5 || packetType === 4 || packetType === 5) {
      out.kind = 'ignore'; // command frame, metadata (HDR), MPEG-2 TS sequence start
      return;
    }
    out.key = frameType === 1;
    if (packetType === 0) {
      out.kind = 'video-config';
      out.data = payload.subarray(5);
    } else if (packetType === 1) {
      if (payload.length < 8) throw malformed('Enhanced RTMP CodedFrames tag truncated before its composition time');
      out.kind = 'video-frame';
      out.cto = si24(payload, 5);
      out.data = payload.subarray(8);
    } else if (packetType === 3) {
      out.kind = 'video-frame';
      out.data = payload.subarray(5);
    } else if (packetType === 2) {
      out.kind = 'video-end';
    } else {
      throw malformed(`Enhanced RTMP video packet type ${packetType}`);
    }
    return;
  }
  const frameType = b0 >>> 4;
  const codecId = b0 & 0x0f;
  if (codecId !== 7) throw unsupportedVideo(LEGACY_VIDEO[codecId] ?? `FLV codec id ${codecId}`);
  if (frameType === 5) {
    out.kind = 'ignore'; // video info/command frame
    return;
  }
  if (payload.length < 5) throw malformed(`AVC video tag of ${payload.length} bytes is truncated`);
  out.key = frameType === 1;
  const packetType = payload[1];
  if (packetType === 0) {
    out.kind = 'video-config';
    out.data = payload.subarray(5);
  } else if (packetType === 1) {
    out.kind = 'video-frame';
    out.cto = si24(payload, 2);
    out.data = payload.subarray(5);
  } else if (packetType === 2) {
    out.kind = 'video-end';
  } else {
    throw malformed(`AVC packet type ${packetType}`);
  }
}

/** Classifies an audio tag body into `out`. */
export function parseAudioTag(payload: Buffer, out: MediaUnit): void {
  out.key = true;
  out.cto = 0;
  if (payload.length === 0) {
    out.kind = 'ignore';
    return;
  }
  const format = payload[0] >>> 4;
  if (format === 9) {
    const fourcc = payload.length >= 5 ? payload.toString('latin1', 1, 5) : '';
    throw unsupportedAudio(FOURCC_AUDIO[fourcc] ?? (fourcc ? `FourCC ${printable(fourcc)}` : 'Enhanced RTMP'));
  }
  if (format !== 10) throw unsupportedAudio(LEGACY_AUDIO[format] ?? `FLV sound format ${format}`);
  if (payload.length < 2) throw malformed('AAC audio tag truncated before its packet type');
  if (payload[1] === 0) out.kind = 'audio-config';
  else if (payload[1] === 1) out.kind = 'audio-frame';
  else throw malformed(`AAC packet type ${payload[1]}`);
  out.data = payload.subarray(2);
  if (out.kind === 'audio-frame' && out.data.length === 0) throw malformed('empty AAC frame');
}

/**
 * Walks the NALUs of an AVC sample and returns how many there are; throws `malformed` for a zero length or a
 * length past the end of the tag.
 */
export function countNalus(data: Buffer, lengthSize: number): number {
  if (data.length === 0) throw malformed('empty AVC frame');
  let pos = 0;
  let n = 0;
  while (pos < data.length) {
    if (pos + lengthSize > data.length) throw malformed('NALU length field past the end of the tag');
    const len = lengthSize === 4 ? data.readUInt32BE(pos) : lengthSize === 2 ? data.readUInt16BE(pos) : data[pos];
    pos += lengthSize;
    if (len === 0) throw malformed('zero-length NALU');
    if (len > data.length - pos) throw malformed(`NALU length ${len} past the end of the tag (${data.length - pos} bytes left)`);
    pos += len;
    n++;
  }
  return n;
}

/** What `onMetaData` says about the track set (hints only; the sequence headers decide). */
export interface StreamMetadata {
  hasVideo?: boolean;
  hasAudio?: boolean;
}

/**
 * Reads `videocodecid` / `audiocodecid` from an `onMetaData` script tag (optionally `@setDataFrame`-wrapped).
 * A small AMF0 scanner; returns undefined for anything it cannot read, since metadata is only a hint.
 */
export function parseMetadata(payload: Buffer): StreamMetadata | undefined {
  try {
    let pos = 0;
    const str = (): string => {
      if (payload[pos] !== 2) throw new Error('not a string');
      const len = payload.readUInt16BE(pos + 1);
      const s = payload.toString('utf8', pos + 3, pos + 3 + len);
      pos += 3 + len;
      return s;
    };
    let name = str();
    if (name === '@setDataFrame') name = str();
    if (name !== 'onMetaData') return undefined;
    const marker = payload[pos];
    if (marker === 8) pos += 5;
    else if (marker === 3) pos += 1;
    else return undefined;
    const meta: StreamMetadata = {};
    for (let guard = 0; guard < 256 && pos + 3 <= payload.length; guard++) {
      const klen = payload.readUInt16BE(pos);
      const key = payload.toString('utf8', pos + 2, pos + 2 + klen);
      pos += 2 + klen;
      const type = payload[pos];
      if (klen === 0 && type === 9) break;
      if (key === 'videocodecid') meta.hasVideo = true;
      if (key === 'audiocodecid') meta.hasAudio = true;
      pos = skipAmf0(payload, pos);
    }
    return meta;
  } catch {
    return undefined;
  }
}

function skipAmf0(b: Buffer, pos: number, depth = 0): number {
  if (depth > 8 || pos >= b.length) throw new Error('AMF0 too deep or truncated');
  const type = b[pos++];
  switch (type) {
    case 0:
      return pos + 8;
    case 1:
      return pos + 1;
    case 2:
      return pos + 2 + b.readUInt16BE(pos);
    case 12:
      return pos + 4 + b.readUInt32BE(pos);
    case 5:
    case 6:
      return pos;
    case 11:
      return pos + 10;
    case 3:
    case 8: {
      if (type === 8) pos += 4;
      while (pos + 3 <= b.length) {
        const klen = b.readUInt16BE(pos);
        pos += 2 + klen;
        if (klen === 0 && b[pos] === 9) return pos + 1;
        pos = skipAmf0(b, pos, depth + 1);
      }
      throw new Error('AMF0 object truncated');
    }
    case 10: {
      const n = b.readUInt32BE(pos);
      pos += 4;
      for (let i = 0; i < n && i < 4096; i++) pos = skipAmf0(b, pos, depth + 1);
      return pos;
    }
    default:
      throw new Error(`AMF0 type ${type}`);
  }
}
