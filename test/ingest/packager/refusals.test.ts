import { describe, expect, it } from 'vitest';
import { Packager, PackagerError } from '../../../ingest/packager/index.js';
import { parseMp4 } from './support/mp4.js';
import { collect, runFeed } from './support/run.js';
import { avcRecord, buildSps, feed } from './support/synth.js';

function exVideo(frameType: number, packetType: number, fourcc: string, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([0x80 | (frameType << 4) | packetType]), Buffer.from(fourcc, 'latin1'), body]);
}

describe('codec refusals', () => {
  it.each([
    ['HEVC over Enhanced RTMP', 9, exVideo(1, 0, 'hvc1', Buffer.alloc(23)), 'HEVC video is not supported'],
    ['AV1 over Enhanced RTMP', 9, exVideo(1, 0, 'av01', Buffer.alloc(4)), 'AV1 video is not supported'],
    ['VP9 over Enhanced RTMP', 9, exVideo(1, 0, 'vp09', Buffer.alloc(4)), 'VP9 video is not supported'],
    ['an unknown FourCC', 9, exVideo(1, 1, 'abcd'), "FourCC 'abcd' video is not supported"],
    ['Enhanced RTMP multitrack', 9, Buffer.from([0x86, 0, 0, 0, 0]), 'Multitrack (Enhanced RTMP) video is not supported'],
    ['Sorenson H.263', 9, Buffer.from([0x12, 0, 0]), 'Sorenson H.263 video is not supported'],
    ['On2 VP6', 9, Buffer.from([0x14, 0, 0]), 'On2 VP6 video is not supported'],
    ['legacy HEVC codec id 12', 9, Buffer.from([0x1c, 0, 0, 0, 0]), 'HEVC (non-standard FLV codec id 12) video is not supported'],
  ])('refuses %s, naming the codec and the OBS setting', (_name, type, payload, text) => {
    const c = collect();
    const err = c.packager.push(type, 0, payload);
    expect(err).toBeInstanceOf(PackagerError);
    expect(err!.code).toBe('unsupported-codec');
    expect(err!.rtmpDescription).toBe(`${text}; in OBS → Settings → Output set Video Encoder to x264 or another H.264 encoder`);
    expect(c.packager.error).toBe(err);
    expect(c.packager.push(9, 10, payload)).toBe(err);
  });

  it.each([
    ['MP3', Buffer.from([0x2f, 0xff, 0xfb]), 'MP3'],
    ['Speex', Buffer.from([0xb6, 0]), 'Speex'],
    ['Nellymoser', Buffer.from([0x6e, 0]), 'Nellymoser'],
    ['G.711', Buffer.from([0x7e, 0]), 'G.711 A-law'],
    ['Opus over Enhanced RTMP', Buffer.from([0x90, 0x4f, 0x70, 0x75, 0x73]), 'Opus'],
  ])('refuses %s audio', (_name, payload, codec) => {
    const err = collect().packager.push(8, 0, payload);
    expect(err?.code).toBe('unsupported-codec');
    expect(err?.rtmpDescription).toBe(`${codec} audio is not supported; in OBS → Settings → Output set Audio Encoder to AAC`);
  });

  it('packages H.264 sent with Enhanced RTMP headers (avc1 FourCC, CodedFrames and CodedFramesX)', () => {
    const c = collect();
    const record = avcRecord(buildSps({ width: 640, height: 360, fps: 30 }));
    c.packager.push(9, 0, exVideo(1, 0, 'avc1', record));
    c.packager.push(9, 0, exVideo(0, 4, 'avc1', Buffer.alloc(10))); // metadata: ignored
    const frame = (key: boolean, x: boolean) => {
      const nal = Buffer.alloc(200, 1);
      nal.writeUInt32BE(196);
      const cto = x ? Buffer.alloc(0) : Buffer.from([0, 0, 33]);
      return exVideo(key ? 1 : 2, x ? 3 : 1, 'avc1', Buffer.concat([cto, nal]));
    };
    for (let i = 0; i < 45; i++) expect(c.packager.push(9, Math.round((i * 1000) / 30), frame(i === 0, i % 2 === 1))).toBeUndefined();
    c.packager.push(9, 1500, exVideo(0, 2, 'avc1')); // SequenceEnd
    expect(c.packager.end()).toBeUndefined();
    const mp4 = parseMp4(c.file());
    expect(mp4.info.tracks[0]).toMatchObject({ codec: 'avc1.64001f', video: { width: 640, height: 360 } });
    const s = mp4.samples.get(1)!;
    expect(s).toHaveLength(45);
    expect(s.slice(0, 3).map((x) => x.cts - x.dts)).toEqual([33 * 90, 0, 33 * 90]);
  });
});

describe('malformed input', () => {
  const header = feed({ seconds: 0.1 }).slice(0, 2);
  it.each([
    ['a truncated AVC sequence header', 9, Buffer.from([0x17, 0, 0, 0, 0, 1, 100])],
    ['an AVC sequence header of garbage', 9, Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), Buffer.alloc(40, 0xee)])],
    ['a truncated AAC sequence header', 8, Buffer.from([0xaf, 0, 0x11])],
    ['a NALU length past the tag', 9, Buffer.from([0x27, 1, 0, 0, 0, 0, 0, 1, 0, 0x41, 1, 2])],
    ['a zero-length NALU', 9, Buffer.from([0x27, 1, 0, 0, 0, 0, 0, 0, 0])],
    ['an empty AVC frame', 9, Buffer.from([0x27, 1, 0, 0, 0])],
    ['a truncated AVC tag', 9, Buffer.from([0x27, 1])],
    ['an unknown AVC packet type', 9, Buffer.from([0x27, 9, 0, 0, 0, 1])],
    ['an empty AAC frame', 8, Buffer.from([0xaf, 1])],
  ])('returns a typed error for %s', (_name, type, payload) => {
    const c = collect();
    for (const m of header) expect(c.packager.push(m.type, 0, m.payload)).toBeUndefined();
    const err = c.packager.push(type, 40, payload);
    expect(err).toBeInstanceOf(PackagerError);
    expect(err!.code).toBe('malformed');
    expect(() => c.packager.end()).not.toThrow();
  });

  it('ignores empty tag bodies and a push after end() is a typed error', () => {
    const c = collect();
    expect(c.packager.push(9, 0, Buffer.alloc(0))).toBeUndefined();
    expect(c.packager.push(8, 0, Buffer.alloc(0))).toBeUndefined();
    runFeed(c, feed({ seconds: 1 }));
    expect(c.packager.push(9, 2000, Buffer.from([0x27, 1, 0, 0, 0]))?.code).toBe('ended');
  });

  it('turns an exception in an output callback into an internal error instead of throwing', () => {
    let now = 0;
    const p = new Packager({
      session: 'abcdefghij',
      mediaSequenceBase: 0,
      discontinuitySequenceBase: 0,
      now: () => now,
      onSegment: () => {
        throw new Error('disk full');
      },
    });
    const errors = feed({ seconds: 2 }).map((m) => {
      now = m.mediaMs;
      return p.push(m.type, m.timestamp, m.payload);
    });
    const err = errors.find((e) => e);
    expect(err?.code).toBe('internal');
    expect((err?.cause as Error | undefined)?.message).toBe('disk full');
  });
});
