/** The thumbnail's byte work (Annex B, sizes, the JPEG header) and its three settings. No processes. */
import { describe, expect, it } from 'vitest';
import { ingestSettings } from '../../../core/settings/ingest';
import { accessUnitAnnexB, decodeArgs, jpegSize, parameterSetsAnnexB, thumbnailSize } from '../../../ingest/thumbnails/index';

const SC = [0, 0, 0, 1];

describe('Annex B', () => {
  // configurationVersion 1, profile/compat/level, lengthSizeMinusOne 3; 2 SPS, 1 PPS.
  const record = Buffer.from([1, 0x64, 0, 0x1f, 0xff, 0xe2, 0, 3, 0x67, 1, 2, 0, 2, 0x67, 3, 1, 0, 2, 0x68, 4]);

  it('puts every SPS and PPS of the sequence header behind a start code', () => {
    expect([...parameterSetsAnnexB(record)]).toEqual([...SC, 0x67, 1, 2, ...SC, 0x67, 3, ...SC, 0x68, 4]);
  });

  it.each([
    [4, [0, 0, 0, 2, 0x65, 9, 0, 0, 0, 1, 0x06]],
    [2, [0, 2, 0x65, 9, 0, 1, 0x06]],
    [1, [2, 0x65, 9, 1, 0x06]],
  ] as const)('turns %i-byte NAL lengths into start codes, after the parameter sets', (size, body) => {
    const ps = Buffer.from([...SC, 0x67]);
    expect([...accessUnitAnnexB(ps, Buffer.from(body), size)!]).toEqual([...SC, 0x67, ...SC, 0x65, 9, ...SC, 0x06]);
  });

  it.each([
    ['a zero length', [0, 0, 0, 0, 0x65]],
    ['a length past the end', [0, 0, 0, 9, 0x65, 1]],
    ['a cut length field', [0, 0, 0, 1, 0x65, 0, 0]],
    ['nothing', []],
  ])('refuses %s', (_, body) => {
    expect(accessUnitAnnexB(Buffer.from(SC), Buffer.from(body), 4)).toBeUndefined();
  });
});

describe('thumbnailSize', () => {
  it.each([
    [1280, 720, 640, 640, 360],
    [1920, 1080, 640, 640, 360],
    [1366, 768, 640, 640, 360],
    [854, 480, 640, 640, 360],
    [720, 576, 640, 640, 512],
    [1080, 1920, 640, 640, 1138], // portrait: the width is the limit
    [640, 360, 640, 640, 360],
    [320, 240, 640, 320, 240], // never scaled up
    [321, 241, 640, 320, 240], // even
    [1920, 1080, 1920, 1920, 1080],
    [1280, 720, 333, 332, 186],
    [4096, 16, 64, 64, 2],
  ])('%ix%i at most %i wide: %ix%i', (w, h, max, ew, eh) => {
    expect(thumbnailSize(w, h, max)).toEqual({ width: ew, height: eh });
  });
});

describe('jpegSize', () => {
  const app0 = [0xff, 0xe0, 0, 4, 0, 0];
  const sof0 = [0xff, 0xc0, 0, 11, 8, 0x01, 0x68, 0x02, 0x80, 1, 0x11];
  it('reads the frame header', () => {
    expect(jpegSize(Buffer.from([0xff, 0xd8, ...app0, ...sof0]))).toEqual({ width: 640, height: 360 });
    expect(jpegSize(Buffer.from([0xff, 0xd8, ...app0, 0xff, 0xc4, 0, 2, ...sof0]))).toEqual({ width: 640, height: 360 }); // DHT is not a SOF
  });
  it.each([
    ['empty', []],
    ['not a JPEG', [0x89, 0x50, 0x4e, 0x47]],
    ['no frame header before the scan', [0xff, 0xd8, 0xff, 0xda, 0, 2]],
    ['cut short', [0xff, 0xd8, 0xff, 0xc0, 0, 11, 8]],
  ])('%s: undefined', (_, bytes) => {
    expect(jpegSize(Buffer.from(bytes))).toBeUndefined();
  });
});

describe('decodeArgs', () => {
  it('reads H.264 from stdin and writes one scaled JPEG to stdout, one thread', () => {
    const args = decodeArgs(640, 360).join(' ');
    expect(args).toContain('-f h264 -c:v h264 -i pipe:0');
    expect(args).toContain('-frames:v 1 -vf scale=640:360');
    expect(args).toMatch(/-f image2pipe -c:v mjpeg -q:v \d+ pipe:1$/);
    expect(args.match(/-threads 1/g)).toHaveLength(2);
  });
});

describe('thumbnail settings', () => {
  const base = { KEYFRAME_TABLE: 't' };
  it('default to every 10 s, 640 wide, 2 decodes at once', () => {
    expect(ingestSettings.load(base)).toMatchObject({ thumbnailSeconds: 10, thumbnailWidth: 640, thumbnailConcurrency: 2 });
  });
  it('read and write their variables; 0 s turns thumbnails off', () => {
    const env = ingestSettings.toEnv({ tableName: 't', thumbnailSeconds: 0, thumbnailWidth: 1920, thumbnailConcurrency: 16 });
    expect(env).toMatchObject({ KEYFRAME_THUMBNAIL_SECONDS: '0', KEYFRAME_THUMBNAIL_WIDTH: '1920', KEYFRAME_THUMBNAIL_CONCURRENCY: '16' });
    expect(ingestSettings.load(env)).toMatchObject({ thumbnailSeconds: 0, thumbnailWidth: 1920, thumbnailConcurrency: 16 });
  });
  it.each([
    ['KEYFRAME_THUMBNAIL_SECONDS', '3601', 'KEYFRAME_THUMBNAIL_SECONDS=3601 is above the maximum 3600'],
    ['KEYFRAME_THUMBNAIL_SECONDS', '-1', 'KEYFRAME_THUMBNAIL_SECONDS=-1 is below the minimum 0'],
    ['KEYFRAME_THUMBNAIL_SECONDS', '2.5', 'KEYFRAME_THUMBNAIL_SECONDS="2.5" is not an integer'],
    ['KEYFRAME_THUMBNAIL_WIDTH', '63', 'KEYFRAME_THUMBNAIL_WIDTH=63 is below the minimum 64'],
    ['KEYFRAME_THUMBNAIL_WIDTH', '1921', 'KEYFRAME_THUMBNAIL_WIDTH=1921 is above the maximum 1920'],
    ['KEYFRAME_THUMBNAIL_CONCURRENCY', '0', 'KEYFRAME_THUMBNAIL_CONCURRENCY=0 is below the minimum 1'],
    ['KEYFRAME_THUMBNAIL_CONCURRENCY', '17', 'KEYFRAME_THUMBNAIL_CONCURRENCY=17 is above the maximum 16'],
  ])('%s=%s is refused', (name, value, message) => {
    expect(() => ingestSettings.load({ ...base, [name]: value })).toThrow(message);
  });
});
