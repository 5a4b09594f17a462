/** A tiny FLV file reader for tests: the tags of a file as RTMP-like messages. */
export interface FlvMessage {
  readonly type: number;
  readonly timestamp: number;
  readonly payload: Buffer;
}

export function readFlvTags(file: Buffer): FlvMessage[] {
  if (file.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV file');
  const tags: FlvMessage[] = [];
  let pos = file.readUInt32BE(5) + 4;
  while (pos + 11 <= file.length) {
    const type = file[pos] & 0x1f;
    const size = file.readUIntBE(pos + 1, 3);
    const timestamp = (file.readUIntBE(pos + 4, 3) | (file[pos + 7] << 24)) >>> 0;
    if (pos + 11 + size > file.length) break;
    tags.push({ type, timestamp, payload: file.subarray(pos + 11, pos + 11 + size) });
    pos += 11 + size + 4;
  }
  return tags;
}
