import { describe, expect, it } from 'vitest';
import {
  CACHE_CLIENT_ERROR,
  CACHE_MULTIVARIANT,
  CACHE_NO_STORE,
  CACHE_SEGMENT,
  errorCacheControl,
  mediaPlaylistMaxAge,
  parseTargetDuration,
  playlistCacheControl,
} from '../../../core/hls/cache-control';

const media = (target: number | undefined) =>
  [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    ...(target === undefined ? [] : [`#EXT-X-TARGETDURATION:${target}`]),
    '#EXT-X-MEDIA-SEQUENCE:7',
    '#EXTINF:1.000,',
    'k3j9x0a1b2_7.ts',
    '',
  ].join('\n');

const multivariant = [
  '#EXTM3U',
  '#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720',
  '720p.m3u8',
  '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360',
  '360p.m3u8',
  '',
].join('\n');

describe('cache-control', () => {
  it.each([
    [1, 1],
    [2, 1],
    [3, 1],
    [4, 2],
    [6, 3],
    [10, 5],
    [0, 1],
  ])('media playlist with target duration %i → max-age=%i', (target, maxAge) => {
    expect(mediaPlaylistMaxAge(target)).toBe(maxAge);
    expect(playlistCacheControl(media(target), 1)).toBe(`public, max-age=${maxAge}`);
  });

  it('reads the target duration from the playlist itself, CRLF included', () => {
    expect(parseTargetDuration(media(6))).toBe(6);
    expect(parseTargetDuration(media(6).replace(/\n/g, '\r\n'))).toBe(6);
    expect(parseTargetDuration(media(undefined))).toBeUndefined();
    expect(parseTargetDuration('#EXTM3U\n#EXT-X-TARGETDURATION:abc\n')).toBeUndefined();
  });

  it('falls back to the configured segment duration when the tag is missing', () => {
    expect(playlistCacheControl(media(undefined), 1)).toBe('public, max-age=1');
    expect(playlistCacheControl(media(undefined), 6)).toBe('public, max-age=3');
    expect(playlistCacheControl(media(undefined), 4.5)).toBe('public, max-age=2');
  });

  it('gives a multivariant playlist 2 s', () => {
    expect(CACHE_MULTIVARIANT).toBe('public, max-age=2');
    expect(playlistCacheControl(multivariant, 6)).toBe(CACHE_MULTIVARIANT);
  });

  it('gives an LL-HLS media playlist about a second whatever its target duration, never no-cache', () => {
    const ll = '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-PART-INF:PART-TARGET=0.334\n#EXTINF:6.000,\na_1.m4s\n';
    expect(playlistCacheControl(ll, 6)).toBe('public, max-age=1');
    expect(playlistCacheControl(ll, 6)).not.toMatch(/no-cache|no-store/);
    expect(playlistCacheControl(ll.replace('#EXT-X-PART-INF:PART-TARGET=0.334\n', ''), 6)).toBe('public, max-age=3');
  });

  it('makes segments immutable for 14 days', () => {
    expect(CACHE_SEGMENT).toBe('public, max-age=1209600, immutable');
  });

  it.each([
    [400, CACHE_CLIENT_ERROR],
    [404, CACHE_CLIENT_ERROR],
    [405, CACHE_CLIENT_ERROR],
    [500, CACHE_NO_STORE],
    [502, 'no-store'],
    [503, 'no-store'],
    [504, 'no-store'],
  ])('error %i → %s', (status, expected) => {
    expect(errorCacheControl(status)).toBe(expected);
  });
  it('4xx is cached one second', () => expect(CACHE_CLIENT_ERROR).toBe('public, max-age=1'));
});
