/**
 * Codec configuration parsing: the AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3) with just enough of
 * the H.264 SPS (ITU-T H.264 §7.3.2.1) for the picture size, profile/level and frame-rate hint, and the AAC
 * AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1). Every parser throws only `PackagerError('malformed')`.
 */
import { malformed } from './errors.js';

/** MSB-first bit reader over an RBSP (emulation prevention bytes already removed). */
export class BitReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  bit(): number {
    if (this.pos >= this.buf.length * 8) throw malformed('bitstream ends early');
    const v = (this.buf[this.pos >>> 3] >>> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return v;
  }

  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }

  /** Unsigned Exp-Golomb (ue(v)). */
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw malformed('Exp-Golomb code longer than 32 bits');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }

  /** Signed Exp-Golomb (se(v)). */
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Removes emulation prevention bytes (00 00 03 → 00 00) from a NAL unit body. */
export function nalToRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let n = 0;
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** What the SPS tells us. */
export interface AvcSpsInfo {
  readonly profileIdc: number;
  readonly constraintFlags: number;
  readonly levelIdc: number;
  /** Displayed size, after the cropping window. */
  readonly width: number;
  readonly height: number;
  /** `time_scale / (2 × num_units_in_tick)` from the VUI, when present. */
  readonly frameRate?: number;
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Parses an H.264 SPS NAL unit (with its 1-byte NAL header). */
export function parseAvcSps(nal: Uint8Array): AvcSpsInfo {
  if (nal.length < 4 || (nal[0] & 0x1f) !== 7) throw malformed('AVC sequence header: not an SPS NAL unit');
  const r = new BitReader(nalToRbsp(nal.subarray(1)));
  const profileIdc = r.bits(8);
  const constraintFlags = r.bits(8);
  const levelIdc = r.bits(8);
  r.ue(); // seq_parameter_set_id
  let chromaFormatIdc = 1;
  let separateColourPlane = 0;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw malformed(`AVC SPS: chroma_format_idc ${chromaFormatIdc}`);
    if (chromaFormatIdc === 3) separateColourPlane = r.bit();
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.bit(); // qpprime_y_zero_transform_bypass_flag
    if (r.bit()) {
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) if (r.bit()) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.bit();
    r.se();
    r.se();
    const cycle = r.ue();
    if (cycle > 255) throw malformed('AVC SPS: num_ref_frames_in_pic_order_cnt_cycle > 255');
    for (let i = 0; i < cycle; i++) r.se();
  } else if (pocType !== 2) throw malformed(`AVC SPS: pic_order_cnt_type ${pocType}`);
  r.ue(); // max_num_ref_frames
  r.bit(); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit();
  if (!frameMbsOnly) r.bit(); // mb_adaptive_frame_field_flag
  r.bit(); // direct_8x8_inference_flag
  let cropLeft = 0;
  let cropRight = 0;
  let cropTop = 0;
  let cropBottom = 0;
  if (r.bit()) {
    cropLeft = r.ue();
    cropRight = r.ue();
    cropTop = r.ue();
    cropBottom = r.ue();
  }
  const chromaArray = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaArray === 1 || chromaArray === 2 ? 2 : 1;
  const subHeightC = chromaArray === 1 ? 2 : 1;
  const cropUnitX = chromaArray === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArray === 0 ? 1 : subHeightC) * (2 - frameMbsOnly);
  const width = widthMbs * 16 - cropUnitX * (cropLeft + cropRight);
  const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropUnitY * (cropTop + cropBottom);
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) throw malformed(`AVC SPS: picture size ${width}x${height}`);
  let frameRate: number | undefined;
  try {
    if (r.bit()) frameRate = parseVuiFrameRate(r);
  } catch {
    // A truncated VUI costs only the frame-rate hint.
  }
  return { profileIdc, constraintFlags, levelIdc, width, height, frameRate };
}

function parseVuiFrameRate(r: BitReader): number | undefined {
  if (r.bit() && r.bits(8) === 255) r.bits(32); // aspect_ratio_info: idc, Extended_SAR
  if (r.bit()) r.bit(); // overscan
  if (r.bit()) {
    r.bits(4); // video_format, video_full_range_flag
    if (r.bit()) r.bits(24); // colour description
  }
  if (r.bit()) {
    r.ue();
    r.ue();
  }
  if (!r.bit()) return undefined;
  const unitsInTick = r.bits(32);
  const timeScale = r.bits(32);
  return unitsInTick > 0 && timeScale > 0 ? timeScale / (2 * unitsInTick) : undefined;
}

/** A parsed AVCDecoderConfigurationRecord. */
export interface AvcConfig extends AvcSpsInfo {
  readonly kind: 'avc';
  /** The record as it goes into `avcC` (lengthSizeMinusOne forced to 3). */
  readonly record: Buffer;
  /** NALU length size in the incoming samples: 1, 2 or 4. */
  readonly lengthSize: 1 | 2 | 4;
  /** RFC 6381 codec string, e.g. `avc1.64001f`. */
  readonly codec: string;
}

/** Parses an AVCDecoderConfigurationRecord (FLV AVC packet type 0 body). */
export function parseAvcConfig(data: Buffer): AvcConfig {
  if (data.length < 7) throw malformed(`AVC sequence header of ${data.length} bytes is truncated`);
  if (data[0] !== 1) throw malformed(`AVC sequence header: configurationVersion ${data[0]}`);
  const lengthSize = (data[4] & 3) + 1;
  if (lengthSize === 3) throw malformed('AVC sequence header: NALU length size 3');
  const numSps = data[5] & 0x1f;
  if (numSps === 0) throw malformed('AVC sequence header has no SPS');
  let pos = 6;
  let firstSps: Buffer | undefined;
  for (let i = 0; i < numSps; i++) {
    if (pos + 2 > data.length) throw malformed('AVC sequence header: SPS list truncated');
    const len = data.readUInt16BE(pos);
    pos += 2;
    if (len === 0 || pos + len > data.length) throw malformed('AVC sequence header: SPS length past the end');
    firstSps ??= data.subarray(pos, pos + len);
    pos += len;
  }
  if (pos >= data.length) throw malformed('AVC sequence header: PPS count missing');
  const numPps = data[pos++];
  if (numPps === 0) throw malformed('AVC sequence header has no PPS');
  for (let i = 0; i < numPps; i++) {
    if (pos + 2 > data.length) throw malformed('AVC sequence header: PPS list truncated');
    const len = data.readUInt16BE(pos);
    pos += 2;
    if (len === 0 || pos + len > data.length) throw malformed('AVC sequence header: PPS length past the end');
    pos += len;
  }
  const sps = parseAvcSps(firstSps!);
  const record = Buffer.from(data.subarray(0, data.length));
  record[4] = 0xfc | 3;
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  const codec = `avc1.${hex(sps.profileIdc)}${hex(sps.constraintFlags)}${hex(sps.levelIdc)}`;
  return { kind: 'avc', ...sps, record, lengthSize: lengthSize as 1 | 2 | 4, codec };
}

/** A parsed AudioSpecificConfig. */
export interface AacConfig {
  readonly kind: 'aac';
  /** The AudioSpecificConfig bytes as they go into `esds`. */
  readonly record: Buffer;
  readonly objectType: number;
  /** Core sampling rate; also the track timescale. */
  readonly sampleRate: number;
  readonly channels: number;
  /** PCM samples per AAC frame at `sampleRate`: 1024 (or 960). */
  readonly samplesPerFrame: number;
  /** RFC 6381 codec string, e.g. `mp4a.40.2`. */
  readonly codec: string;
}

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Parses an AAC AudioSpecificConfig (FLV AAC packet type 0 body). */
export function parseAacConfig(data: Buffer): AacConfig {
  if (data.length < 2) throw malformed(`AAC sequence header of ${data.length} bytes is truncated`);
  const r = new BitReader(data);
  let objectType = r.bits(5);
  if (objectType === 31) objectType = 32 + r.bits(6);
  const rateIndex = r.bits(4);
  const sampleRate = rateIndex === 15 ? r.bits(24) : AAC_RATES[rateIndex];
  if (!sampleRate || sampleRate < 7350 || sampleRate > 96000) throw malformed(`AAC sequence header: sampling frequency index ${rateIndex}`);
  const channelConfig = r.bits(4);
  if (![1, 2, 5, 29].includes(objectType)) throw malformed(`AAC sequence header: audio object type ${objectType} is not AAC`);
  let samplesPerFrame = 1024;
  if (objectType === 1 || objectType === 2) samplesPerFrame = r.bit() ? 960 : 1024;
  const channels = channelConfig === 0 ? 2 : channelConfig === 7 ? 8 : Math.min(channelConfig, 8);
  return {
    kind: 'aac',
    record: Buffer.from(data),
    objectType,
    sampleRate,
    channels,
    samplesPerFrame,
    codec: `mp4a.40.${objectType}`,
  };
}

/** Whether two configurations would produce the same init segment. */
export function sameConfig(a: { record: Buffer } | undefined, b: { record: Buffer } | undefined): boolean {
  if (!a || !b) return a === b;
  return a.record.equals(b.record);
}
