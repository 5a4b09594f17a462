import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../../core/errors';
import { MAX_PATH_LENGTH, parseOriginPath } from '../../../core/hls/paths';

const ID = 'AbCdEf123456';
const S = 'k3j9x0a1b2';

describe('parseOriginPath', () => {
  it.each([
    [`/${ID}/index.m3u8`, { playbackId: ID, file: 'index.m3u8', kind: 'playlist', contentType: 'application/vnd.apple.mpegurl' }],
    [`/${ID}/720p.m3u8`, { playbackId: ID, file: '720p.m3u8', kind: 'playlist', contentType: 'application/vnd.apple.mpegurl' }],
    [`/${ID}/source_hi.m3u8`, { playbackId: ID, file: 'source_hi.m3u8', kind: 'playlist' }],
    [`/${ID}/${'a'.repeat(32)}.m3u8`, { file: `${'a'.repeat(32)}.m3u8`, kind: 'playlist' }],
    [`/${ID}/${S}_0.ts`, { file: `${S}_0.ts`, kind: 'segment', contentType: 'video/mp2t', session: S }],
    [`/${ID}/${S}_123456.ts`, { file: `${S}_123456.ts`, kind: 'segment', contentType: 'video/mp2t' }],
    [`/${ID}/${S}_42.m4s`, { file: `${S}_42.m4s`, kind: 'segment', contentType: 'video/iso.segment', session: S }],
    [`/${ID}/${S}_init.mp4`, { file: `${S}_init.mp4`, kind: 'init', contentType: 'video/mp4', session: S }],
  ])('accepts %s', (path, expected) => {
    expect(parseOriginPath(path)).toMatchObject(expected);
  });

  it.each([
    ['', 'empty'],
    ['/', 'root'],
    [`/${ID}`, 'no file'],
    [`/${ID}/`, 'empty file'],
    [`${ID}/index.m3u8`, 'no leading slash'],
    [`/${ID}/index.m3u8/`, 'trailing slash'],
    [`//${ID}/index.m3u8`, 'double slash at start'],
    [`/${ID}//index.m3u8`, 'double slash'],
    [`/${ID}/../index.m3u8`, 'dot-dot segment'],
    [`/../${ID}/index.m3u8`, 'leading dot-dot'],
    [`/${ID}/..`, 'dot-dot file'],
    [`/${ID}/./index.m3u8`, 'dot segment'],
    [`/${ID}/%2e%2e/index.m3u8`, 'encoded dot-dot'],
    [`/${ID}/index%2Em3u8`, 'encoded dot'],
    [`/${ID}%2Findex.m3u8`, 'encoded slash'],
    [`/${ID}/index.m3u8%00`, 'encoded NUL'],
    [`/${ID}\\index.m3u8`, 'backslash'],
    [`/${ID}/..\\index.m3u8`, 'backslash traversal'],
    [`/${ID}/index.m3u8?v=1`, 'query string'],
    [`/${ID}/index.m3u8?`, 'empty query'],
    [`/${ID}/index.m3u8#x`, 'fragment'],
    [`/${ID}/index.m3u8\n`, 'trailing newline'],
    [`/${ID}/INDEX.m3u8`, 'upper-case playlist name'],
    [`/${ID}/index.M3U8`, 'upper-case extension'],
    [`/${ID}/${'a'.repeat(33)}.m3u8`, 'playlist name too long'],
    [`/${ID}/.m3u8`, 'empty playlist name'],
    [`/${ID}/index.m3u`, 'wrong extension'],
    [`/${ID}/index.m3u8.ts`, 'double extension'],
    [`/AbCdEf12345/index.m3u8`, 'playback ID too short'],
    [`/AbCdEf1234567/index.m3u8`, 'playback ID too long'],
    [`/AbCdEf12345_/index.m3u8`, 'playback ID with underscore'],
    [`/AbCdEf12345é/index.m3u8`, 'non-ASCII playback ID'],
    [`/${ID}/${S}_.ts`, 'segment without number'],
    [`/${ID}/${S}_-1.ts`, 'negative segment number'],
    [`/${ID}/${S}_1e3.ts`, 'exponent'],
    [`/${ID}/${S}_1.5.ts`, 'fraction'],
    [`/${ID}/${S}_١.ts`, 'non-ASCII digit'],
    [`/${ID}/${S}_${'1'.repeat(16)}.ts`, 'segment number too long'],
    [`/${ID}/K3J9X0A1B2_1.ts`, 'upper-case session'],
    [`/${ID}/k3j9x0a1b_1.ts`, 'session too short'],
    [`/${ID}/k3j9x0a1b2c_1.ts`, 'session too long'],
    [`/${ID}/${S}_1.mp4`, 'numbered mp4'],
    [`/${ID}/${S}_init.ts`, 'init with .ts'],
    [`/${ID}/${S}_init.m4s`, 'init with .m4s'],
    [`/${ID}/init.mp4`, 'init without session'],
    [`/${ID}/${S}_1.aac`, 'other extension'],
    [`/healthz`, 'task health path'],
    [`/${ID}/index.m3u8 `, 'trailing space'],
    [`/${'A'.repeat(MAX_PATH_LENGTH)}`, 'overlong path'],
  ])('rejects %j (%s) with 400', (path) => {
    let caught: unknown;
    try {
      parseOriginPath(path);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BadRequestError);
    expect((caught as BadRequestError).statusCode).toBe(400);
  });

  it('refuses an over-long path before matching it', () => {
    const long = `/${ID}/${'a'.repeat(MAX_PATH_LENGTH)}.m3u8`;
    expect(() => parseOriginPath(long)).toThrow('Path too long');
  });
});
