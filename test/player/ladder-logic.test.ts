import { describe, expect, it } from 'vitest';
import { classifyPlaylist, probeVariantUrl } from '../../player/src/playlist';
import {
  autoOptionText,
  formatBitrate,
  isSourceUri,
  levelForChoice,
  qualitiesOf,
  qualityReadout,
  startLevelFor,
  type VariantInfo,
} from '../../player/src/qualities';

/** hls.js's levels as it sorts them: ascending bitrate (the page lists them highest first). */
const LEVELS: VariantInfo[] = [
  { width: 640, height: 360, bitrate: 900_000, uri: 'http://h/abcdefghijkl/360p.m3u8' },
  {
    width: 1280,
    height: 720,
    bitrate: 3_200_000,
    averageBitrate: 3_000_000,
    frameRate: 30,
    codecs: 'avc1.64001f,mp4a.40.2',
    uri: 'http://h/abcdefghijkl/720p.m3u8',
  },
  { width: 1920, height: 1080, bitrate: 6_100_000, uri: 'http://h/abcdefghijkl/source.m3u8?token=1.x' },
  { width: 854, height: 480, bitrate: 1_600_000, uri: 'http://h/abcdefghijkl/480p.m3u8' },
];

describe('qualities (player/src/qualities.ts)', () => {
  it('labels by height, highest first, the passthrough variant as the source, keeping hls.js indexes', () => {
    const q = qualitiesOf(LEVELS);
    expect(q.map((l) => l.label)).toEqual(['1080p (source)', '720p', '480p', '360p']);
    expect(q.map((l) => l.index)).toEqual([2, 1, 3, 0]);
    expect(q[0].source).toBe(true);
    expect(q[1]).toMatchObject({ averageBitrate: 3_000_000, frameRate: 30, codecs: 'avc1.64001f,mp4a.40.2', source: false });
  });

  it('tells two variants of one height apart by bitrate, and labels one without RESOLUTION by bitrate', () => {
    const q = qualitiesOf([
      { width: 1280, height: 720, bitrate: 3_000_000, uri: 'a.m3u8' },
      { width: 1280, height: 720, bitrate: 6_000_000, uri: 'source.m3u8' },
      { width: 0, height: 0, bitrate: 128_000, uri: 'audio.m3u8' },
    ]);
    expect(q.map((l) => l.label)).toEqual(['720p 6.0 Mbit/s (source)', '720p 3.0 Mbit/s', '128 kbit/s']);
    expect(formatBitrate(840_400)).toBe('840 kbit/s');
  });

  it('the source variant is source.m3u8, with or without a query', () => {
    expect(isSourceUri('source.m3u8')).toBe(true);
    expect(isSourceUri('https://d/x/source.m3u8?token=1.a')).toBe(true);
    expect(isSourceUri('https://d/x/resource.m3u8')).toBe(false);
    expect(isSourceUri('https://d/x/720p.m3u8')).toBe(false);
  });

  it('a choice is kept by label; another source height pins the same height; unknown means Auto', () => {
    const q = qualitiesOf(LEVELS);
    expect(levelForChoice(q, 'auto')).toBeUndefined();
    expect(levelForChoice(q, '480p')).toBe(3);
    expect(levelForChoice(q, '1080p (source)')).toBe(2);
    // A new publish at 720p: the 720p rung is gone and the source is 720p.
    const next = qualitiesOf([
      { width: 1280, height: 720, bitrate: 3_000_000, uri: 'source.m3u8' },
      { width: 854, height: 480, bitrate: 1_600_000, uri: '480p.m3u8' },
    ]);
    expect(levelForChoice(next, '720p')).toBe(0);
    expect(levelForChoice(next, '1080p (source)')).toBeUndefined();
  });

  it('Auto starts on the highest level ABR may choose', () => {
    expect(startLevelFor(4, 3)).toBe(3);
    // capped (capLevelToPlayerSize, or a variant the browser cannot decode)
    expect(startLevelFor(4, 2)).toBe(2);
    expect(startLevelFor(4, -1)).toBe(3);
    expect(startLevelFor(0, -1)).toBe(-1);
  });

  it('the selector and the readout say Auto and what plays', () => {
    const levels = qualitiesOf(LEVELS);
    expect(autoOptionText({ auto: true, playing: '720p' })).toBe('Auto (720p)');
    expect(autoOptionText({ auto: true })).toBe('Auto');
    expect(autoOptionText({ auto: true, playing: '1080p (source)' })).toBe('Auto (1080p)');
    expect(autoOptionText({ auto: false, playing: '480p' })).toBe('Auto');
    expect(qualityReadout({ auto: true, playing: '720p', levels })).toBe('Auto · 720p');
    expect(qualityReadout({ auto: false, playing: '480p', levels })).toBe('480p');
    // Native engine: no levels, the decoded height alone.
    expect(qualityReadout({ auto: true, playing: '720p', levels: [] })).toBe('720p');
    expect(qualityReadout({ auto: true, levels })).toBe('');
  });
});

describe("the probe of a ladder channel's multivariant playlist (player/src/playlist.ts)", () => {
  const MULTIVARIANT = [
    '#EXTM3U',
    '#EXT-X-VERSION:6',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-STREAM-INF:BANDWIDTH=6100001,AVERAGE-BANDWIDTH=5900000,RESOLUTION=1920x1080,FRAME-RATE=30.000,CODECS="avc1.640028,mp4a.40.2"',
    'source.m3u8',
    '#EXT-X-STREAM-INF:BANDWIDTH=3200000,AVERAGE-BANDWIDTH=3000000,RESOLUTION=1280x720,FRAME-RATE=30.000,CODECS="avc1.64001f,mp4a.40.2"',
    '720p.m3u8',
    '',
  ].join('\n');

  it('reads the source variant, resolved against the playlist URL', () => {
    expect(probeVariantUrl(MULTIVARIANT, 'http://127.0.0.1:8080/abcdefghijkl/index.m3u8?token=1.x')).toBe(
      'http://127.0.0.1:8080/abcdefghijkl/source.m3u8',
    );
    // Not listed first: still the source; none: the first listed.
    const reordered = MULTIVARIANT.replace('source.m3u8', 'tmp').replace('720p.m3u8', 'source.m3u8').replace('tmp', '720p.m3u8');
    expect(probeVariantUrl(reordered, 'http://h/p/index.m3u8')).toBe('http://h/p/source.m3u8');
    expect(probeVariantUrl(MULTIVARIANT.replace('source.m3u8', '1080p.m3u8'), 'http://h/p/index.m3u8')).toBe('http://h/p/1080p.m3u8');
  });

  it('a media playlist, or anything else, has no variant to read', () => {
    expect(probeVariantUrl('#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nabcdefghij_1.ts\n', 'http://h/p/index.m3u8')).toBeUndefined();
    expect(probeVariantUrl('not found', 'http://h/p/index.m3u8')).toBeUndefined();
    // The multivariant alone still classifies as live (the old fallback).
    expect(classifyPlaylist(200, MULTIVARIANT)).toEqual({ kind: 'live' });
  });
});
