/**
 * FLV (Adobe Flash Video File Format, version 10.1, annex E) framing of RTMP media messages: the file header,
 * tags, the splitting of aggregate messages (type 22) into tags, and the unwrapping of `@setDataFrame` data
 * messages into `onMetaData` script tags. Payloads pass through untouched: an RTMP audio/video message body is
 * exactly an FLV AUDIODATA/VIDEODATA tag body.
 */
import { Amf0Error, decodeAmf0Value } from './amf0.js';

export const FlvTagType = { Audio: 8, Video: 9, Script: 18 } as const;

/** Size of the FLV header (9 bytes) plus PreviousTagSize0 (4 bytes). */
export const FLV_HEADER_SIZE = 13;
export const FLV_TAG_HEADER_SIZE = 11;

/** `FLV` + version 1 + flags (audio 0x04, video 0x01) + header size 9, then PreviousTagSize0 = 0. */
export function flvHeader(options: { readonly audio?: boolean; readonly video?: boolean } = {}): Buffer {
  const b = Buffer.alloc(FLV_HEADER_SIZE);
  b.write('FLV', 0, 'latin1');
  b[3] = 1;
  b[4] = (options.audio === false ? 0 : 0x04) | (options.video === false ? 0 : 0x01);
  b.writeUInt32BE(9, 5);
  // bytes 9..12: PreviousTagSize0 = 0
  return b;
}

/**
 * One FLV tag followed by its PreviousTagSize: type, 24-bit data size, timestamp as 24 low bits plus an
 * extended upper byte, stream id 0, data, then 11 + data size.
 */
export function flvTag(type: number, timestamp: number, data: Buffer): Buffer {
  if (data.length > 0xffffff) throw new RangeError(`FLV tag data of ${data.length} bytes exceeds the 24-bit size field`);
  const ts = timestamp >>> 0;
  const tag = Buffer.allocUnsafe(FLV_TAG_HEADER_SIZE + data.length + 4);
  tag[0] = type;
  tag.writeUIntBE(data.length, 1, 3);
  tag.writeUIntBE(ts & 0xffffff, 4, 3);
  tag[7] = ts >>> 24;
  tag.writeUIntBE(0, 8, 3);
  data.copy(tag, FLV_TAG_HEADER_SIZE);
  tag.writeUInt32BE(FLV_TAG_HEADER_SIZE + data.length, FLV_TAG_HEADER_SIZE + data.length);
  return tag;
}

export interface FlvTagData {
  readonly type: number;
  readonly timestamp: number;
  readonly data: Buffer;
}

/**
 * Split an aggregate message (§7.1.6) into its sub-messages. The body is a run of FLV tags (header, data,
 * back pointer). The first sub-message's timestamp is aligned to the aggregate's own; later ones keep their
 * offset from it. Parsing stops at the first tag that does not fit in the body; `truncated` says so.
 */
export function splitAggregate(body: Buffer, timestamp: number): { tags: FlvTagData[]; truncated: boolean } {
  const tags: FlvTagData[] = [];
  let pos = 0;
  let first: number | undefined;
  while (pos < body.length) {
    if (body.length - pos < FLV_TAG_HEADER_SIZE) return { tags, truncated: true };
    const type = body[pos];
    const size = body.readUIntBE(pos + 1, 3);
    const ts = (body.readUIntBE(pos + 4, 3) | (body[pos + 7] << 24)) >>> 0;
    const dataStart = pos + FLV_TAG_HEADER_SIZE;
    if (body.length - dataStart < size + 4) return { tags, truncated: true };
    first ??= ts;
    tags.push({ type, timestamp: (timestamp + (ts - first)) >>> 0, data: body.subarray(dataStart, dataStart + size) });
    pos = dataStart + size + 4;
  }
  return { tags, truncated: false };
}

/**
 * The FLV script tag body for an RTMP data message, or undefined if it should not be written:
 * - `@setDataFrame`, name, value… → name, value… (the wrapper OBS and FFmpeg put around `onMetaData`);
 * - `@clearDataFrame` → nothing;
 * - any other body starting with an AMF0 string (e.g. `onMetaData`, `onTextData`) → unchanged;
 * - anything else (not AMF0, empty) → nothing.
 */
export function scriptTagData(body: Buffer): Buffer | undefined {
  let first: ReturnType<typeof decodeAmf0Value>;
  try {
    first = decodeAmf0Value(body, 0, { maxDepth: 0 });
  } catch (err) {
    if (err instanceof Amf0Error) return undefined;
    throw err;
  }
  if (typeof first.value !== 'string') return undefined;
  if (first.value === '@clearDataFrame') return undefined;
  if (first.value === '@setDataFrame') {
    const rest = body.subarray(first.offset);
    return rest.length > 0 && body[first.offset] === 0x02 ? rest : undefined;
  }
  return body;
}
