/**
 * The byte work of a thumbnail: one AVC access unit from its FLV form (length-prefixed NAL units, ISO/IEC
 * 14496-15) to an Annex B elementary stream ffmpeg's `h264` demuxer reads (start codes, the sequence header's
 * SPS and PPS first); the picture size to scale to; and the size of the JPEG that came back.
 */

const START_CODE = Buffer.from([0, 0, 0, 1]);

/**
 * The SPS and PPS of an AVCDecoderConfigurationRecord (one `parseAvcConfig` accepted), each behind a start code:
 * the prefix of every access unit sent to the decoder. A copy: nothing of `record` is kept.
 */
export function parameterSetsAnnexB(record: Buffer): Buffer {
  const parts: Buffer[] = [];
  let pos = 5;
  const list = (count: number) => {
    for (let i = 0; i < count; i++) {
      const len = record.readUInt16BE(pos);
      parts.push(START_CODE, record.subarray(pos + 2, pos + 2 + len));
      pos += 2 + len;
    }
  };
  list(record[pos++] & 0x1f);
  list(record[pos++]);
  return Buffer.concat(parts);
}

/**
 * One access unit (an FLV AVC NALU packet's body: NAL units each behind a `lengthSize`-byte length) as Annex B,
 * after `parameterSets`. Undefined when a length is zero or runs past the end: nothing to decode.
 */
export function accessUnitAnnexB(parameterSets: Buffer, data: Buffer, lengthSize: 1 | 2 | 4): Buffer | undefined {
  const parts: Buffer[] = [parameterSets];
  let pos = 0;
  while (pos < data.length) {
    if (pos + lengthSize > data.length) return undefined;
    const len = lengthSize === 4 ? data.readUInt32BE(pos) : lengthSize === 2 ? data.readUInt16BE(pos) : data[pos];
    pos += lengthSize;
    if (len === 0 || len > data.length - pos) return undefined;
    parts.push(START_CODE, data.subarray(pos, pos + len));
    pos += len;
  }
  return parts.length > 1 ? Buffer.concat(parts) : undefined;
}

/**
 * The thumbnail's size for a `width`×`height` picture: at most `maxWidth` wide, the aspect ratio kept (square
 * pixels assumed), never scaled up, both dimensions even (what 4:2:0 JPEG and most scalers want), at least 2.
 */
export function thumbnailSize(width: number, height: number, maxWidth: number): { width: number; height: number } {
  const even = (n: number) => Math.max(2, 2 * Math.floor(n / 2));
  if (width <= maxWidth) return { width: even(width), height: even(height) };
  const w = even(maxWidth);
  return { width: w, height: Math.max(2, 2 * Math.round((height * w) / width / 2)) };
}

/** A JPEG's size from its frame header (SOFn), or undefined when the bytes are not a JPEG with one. */
export function jpegSize(jpeg: Buffer): { width: number; height: number } | undefined {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return undefined;
  let pos = 2;
  while (pos + 4 <= jpeg.length) {
    if (jpeg[pos] !== 0xff) return undefined;
    const marker = jpeg[pos + 1];
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image, start of scan: no frame header before
    const len = jpeg.readUInt16BE(pos + 2);
    const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (sof) {
      if (pos + 9 > jpeg.length) return undefined;
      const height = jpeg.readUInt16BE(pos + 5);
      const width = jpeg.readUInt16BE(pos + 7);
      return width > 0 && height > 0 ? { width, height } : undefined;
    }
    pos += 2 + len;
  }
  return undefined;
}
