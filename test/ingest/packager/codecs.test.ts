import { describe, expect, it } from 'vitest';
import { PackagerError, parseAacConfig, parseAvcConfig, parseAvcSps } from '../../../ingest/packager/index.js';
import { aacConfig, avcRecord, buildSps } from './support/synth.js';

describe('AVC configuration', () => {
  it('reads size, profile, level, frame rate and the RFC 6381 string', () => {
    const c = parseAvcConfig(avcRecord(buildSps({ width: 1280, height: 720, fps: 30, level: 31 })));
    expect(c).toMatchObject({ width: 1280, height: 720, profileIdc: 100, levelIdc: 31, frameRate: 30, lengthSize: 4, codec: 'avc1.64001f' });
    expect(c.record[4]).toBe(0xff);
  });

  it('applies the cropping window (1080p is coded as 1088 lines)', () => {
    expect(parseAvcSps(buildSps({ width: 1920, height: 1080 }))).toMatchObject({ width: 1920, height: 1080 });
    expect(parseAvcSps(buildSps({ width: 854, height: 480, profile: 66 }))).toMatchObject({ width: 854, height: 480, profileIdc: 66 });
  });

  it('forces 4-byte NALU lengths in the avcC it writes', () => {
    const c = parseAvcConfig(avcRecord(buildSps({ width: 640, height: 360 }), 2));
    expect(c.lengthSize).toBe(2);
    expect(c.record[4] & 3).toBe(3);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['version 0', Buffer.from([0, 100, 0, 31, 0xff, 0xe1, 0, 4, 0x67, 100, 0, 31])],
    ['SPS past the end', Buffer.from([1, 100, 0, 31, 0xff, 0xe1, 0, 40, 0x67, 100])],
    ['no PPS', Buffer.concat([avcRecord(buildSps({ width: 640, height: 360 })).subarray(0, -9), Buffer.from([0])])],
    ['truncated SPS', Buffer.from([1, 100, 0, 31, 0xff, 0xe1, 0, 3, 0x67, 100, 0, 1, 0, 1, 0x68])],
  ])('rejects a malformed record (%s) with a typed error', (_name, bytes) => {
    const err = catchError(() => parseAvcConfig(bytes));
    expect(err).toBeInstanceOf(PackagerError);
    expect((err as PackagerError).code).toBe('malformed');
  });
});

describe('AAC configuration', () => {
  it.each([
    [48000, 2],
    [44100, 2],
    [44100, 1],
  ])('reads %i Hz, %i channels', (rate, channels) => {
    const config = parseAacConfig(aacConfig(rate, channels));
    expect(config).toMatchObject({ sampleRate: rate, channels, objectType: 2, samplesPerFrame: 1024, codec: 'mp4a.40.2' });
  });

  it.each([
    ['1 byte', Buffer.from([0x11])],
    ['not AAC (object type 7)', Buffer.from([0x39, 0x90])],
    ['bad rate index', Buffer.from([0x16, 0x90])],
  ])('rejects %s', (_name, bytes) => {
    expect((catchError(() => parseAacConfig(bytes)) as PackagerError).code).toBe('malformed');
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}
