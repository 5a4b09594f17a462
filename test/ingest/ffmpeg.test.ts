import { describe, expect, it } from 'vitest';
import { inspectFlvTag } from '../../ingest/ffmpeg';

function tag(type: number, payload: number[]): Buffer {
  const body = Buffer.from(payload);
  const head = Buffer.alloc(11);
  head[0] = type;
  head.writeUIntBE(body.length, 1, 3);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(11 + body.length);
  return Buffer.concat([head, body, trailer]);
}

describe('inspectFlvTag', () => {
  it('spots AVC sequence headers and keyframes', () => {
    expect(inspectFlvTag(tag(9, [0x17, 0x00, 0, 0, 0]))).toEqual({ type: 9, keyframe: true, sequenceHeader: true });
    expect(inspectFlvTag(tag(9, [0x17, 0x01, 0, 0, 0]))).toEqual({ type: 9, keyframe: true, sequenceHeader: false });
    expect(inspectFlvTag(tag(9, [0x27, 0x01, 0, 0, 0]))).toEqual({ type: 9, keyframe: false, sequenceHeader: false });
  });

  it('spots the AAC sequence header', () => {
    expect(inspectFlvTag(tag(8, [0xaf, 0x00, 0x12, 0x10]))).toMatchObject({ type: 8, sequenceHeader: true });
    expect(inspectFlvTag(tag(8, [0xaf, 0x01, 0x21]))).toMatchObject({ type: 8, sequenceHeader: false });
  });

  it('ignores fragments', () => {
    expect(inspectFlvTag(Buffer.alloc(5))).toBeUndefined();
  });
});
