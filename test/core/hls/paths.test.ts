import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../../core/errors';
import {
  type BlockingReload,
  blockingQuery,
  MAX_PATH_LENGTH,
  parseOriginPath,
  parseOriginRequest,
  parseRecordingPath,
  parseViewerRequest,
  recordingPlaylistPath,
  recordingPosterPath,
  thumbnailPath,
  upstreamPath,
} from '../../../core/hls/paths';

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

describe('LL-HLS parts and blocking-reload queries', () => {
  const TOKEN = `1767225600.${'A'.repeat(43)}`;

  it.each([
    [`/${ID}/${S}_42.0.m4s`, { kind: 'part', file: `${S}_42.0.m4s`, session: S, msn: 42, part: 0, contentType: 'video/iso.segment' }],
    [`/${ID}/${S}_42.999.m4s`, { kind: 'part', msn: 42, part: 999 }],
  ])('accepts the part %s', (path, expected) => {
    expect(parseOriginPath(path)).toMatchObject(expected);
  });

  it.each([`/${ID}/${S}_42.01.m4s`, `/${ID}/${S}_42.1000.m4s`, `/${ID}/${S}_42.1.ts`, `/${ID}/${S}_42..m4s`, `/${ID}/${S}_42.-1.m4s`])(
    'refuses the part-like %s',
    (path) => expect(() => parseOriginPath(path)).toThrow(BadRequestError),
  );

  it.each([
    ['?_HLS_msn=7', { msn: 7 }],
    ['?_HLS_msn=0&_HLS_part=0', { msn: 0, part: 0 }],
    ['?_HLS_part=2&_HLS_msn=175000000000', { msn: 175000000000, part: 2 }],
    ['?_HLS_msn=7&_HLS_skip=YES', { msn: 7, skip: 'YES' }],
    ['?_HLS_skip=v2', { skip: 'v2' }],
    [`?token=${TOKEN}&_HLS_msn=7&_HLS_part=1`, { msn: 7, part: 1 }],
  ] as [string, BlockingReload][])('reads the playlist query %s', (query, blocking) => {
    const { target } = parseOriginRequest(`/${ID}/index.m3u8${query}`);
    expect(target.blocking).toEqual(blocking);
    expect(upstreamPath(target)).toBe(`/${ID}/index.m3u8?${blockingQuery(blocking)}`);
  });

  it('keeps the token apart from what goes upstream', () => {
    const r = parseOriginRequest(`/${ID}/index.m3u8?_HLS_msn=3&token=${TOKEN}`);
    expect(r.token).toBe(TOKEN);
    expect(upstreamPath(r.target)).toBe(`/${ID}/index.m3u8?_HLS_msn=3`);
    expect(parseOriginRequest(`/${ID}/index.m3u8`)).toEqual({ target: parseOriginPath(`/${ID}/index.m3u8`) });
  });

  it.each([
    '?_HLS_msn=07',
    '?_HLS_msn=-1',
    '?_HLS_msn=1e3',
    '?_HLS_msn=',
    '?_HLS_msn',
    '?_HLS_msn=1234567890123456',
    '?_HLS_part=1',
    '?_HLS_msn=1&_HLS_part=1000',
    '?_HLS_msn=1&_HLS_part=01',
    '?_HLS_msn=1&_HLS_msn=2',
    '?_HLS_msn=1&_HLS_skip=yes',
    '?_HLS_msn=1&',
    '?_hls_msn=1',
    '?_HLS_msn=1&cachebust=2',
    '?_HLS_msn=%31',
  ])('refuses the playlist query %s', (query) => {
    expect(() => parseOriginRequest(`/${ID}/index.m3u8${query}`)).toThrow(BadRequestError);
  });

  it('admits no query on segments, parts or inits', () => {
    for (const file of [`${S}_42.m4s`, `${S}_42.1.m4s`, `${S}_init.mp4`]) {
      expect(() => parseOriginRequest(`/${ID}/${file}?_HLS_msn=1`)).toThrow(BadRequestError);
    }
  });
});

describe('thumbnails', () => {
  const TOKEN = `1767225600.${'A'.repeat(43)}`;

  it('parses /<playbackId>/thumbnail.jpg as a JPEG, served by the task', () => {
    const target = parseOriginPath(`/${ID}/thumbnail.jpg`);
    expect(target).toEqual({ playbackId: ID, file: 'thumbnail.jpg', kind: 'thumbnail', contentType: 'image/jpeg' });
    expect(upstreamPath(target)).toBe(`/${ID}/thumbnail.jpg`);
    expect(thumbnailPath(ID)).toBe(`/${ID}/thumbnail.jpg`);
  });

  it('admits the token on it, and nothing else', () => {
    expect(parseOriginRequest(`/${ID}/thumbnail.jpg?token=${TOKEN}`)).toEqual({ target: parseOriginPath(`/${ID}/thumbnail.jpg`), token: TOKEN });
    for (const query of ['?_HLS_msn=1', `?token=${TOKEN}&_HLS_msn=1`, '?v=2', `?token=${TOKEN}&token=${TOKEN}`, '?token=1.x']) {
      expect(() => parseOriginRequest(`/${ID}/thumbnail.jpg${query}`), query).toThrow('Invalid query string');
    }
  });

  it.each([
    `/${ID}/thumbnail.jpeg`,
    `/${ID}/Thumbnail.jpg`,
    `/${ID}/thumbnail.JPG`,
    `/${ID}/thumbnail%2ejpg`,
    `/${ID}/thumbnail.jpg/`,
    `/${ID}/../thumbnail.jpg`,
    `/${ID}/thumbnail_1.jpg`,
    `/${ID}/poster.jpg`,
    `/AbCdEf12345/thumbnail.jpg`,
    `/thumbnail.jpg`,
  ])('refuses %s', (path) => {
    expect(() => parseOriginPath(path)).toThrow(BadRequestError);
  });
});

describe('recordings paths', () => {
  const R = 'mh3k2j1a0bcdefgh';
  const BASE = `/recordings/${ID}/${R}`;
  const KEY = `recordings/${ID}/${R}`;
  const TOKEN = `1767225600.${'A'.repeat(43)}`;

  it.each([
    [
      `${BASE}/index.m3u8`,
      { kind: 'recording-playlist', file: 'index.m3u8', contentType: 'application/vnd.apple.mpegurl', key: `${KEY}/index.m3u8` },
    ],
    [`${BASE}/poster.jpg`, { kind: 'poster', file: 'poster.jpg', contentType: 'image/jpeg', key: `${KEY}/poster.jpg` }],
    [`${BASE}/${S}_init.mp4`, { kind: 'recording-init', file: `${S}_init.mp4`, contentType: 'video/mp4', session: S, key: `${KEY}/${S}_init.mp4` }],
    [`${BASE}/${S}_0.m4s`, { kind: 'recording-segment', file: `${S}_0.m4s`, contentType: 'video/iso.segment', session: S, msn: 0 }],
    [`${BASE}/${S}_123456789012345.m4s`, { kind: 'recording-segment', msn: 123456789012345, key: `${KEY}/${S}_123456789012345.m4s` }],
  ])('parses %s', (path, expected) => {
    expect(parseRecordingPath(path)).toMatchObject({ playbackId: ID, recordingId: R, ...expected });
    expect(parseViewerRequest(path)).toEqual({ source: 'recording', target: parseRecordingPath(path) });
  });

  it('builds the URLs the stream list gives', () => {
    expect(recordingPlaylistPath(ID, R)).toBe(`${BASE}/index.m3u8`);
    expect(recordingPosterPath(ID, R)).toBe(`${BASE}/poster.jpg`);
    expect(parseRecordingPath(recordingPlaylistPath(ID, R)).kind).toBe('recording-playlist');
  });

  it.each([
    [`/recordings/${ID}/${R}`, 'no file'],
    [`/recordings/${ID}/${R}/`, 'empty file'],
    [`/recordings/${ID}/`, 'no recording'],
    [`/recordings/${ID}/${R}/index.m3u8/`, 'trailing slash'],
    [`/recordings/${ID}/${R}//index.m3u8`, 'double slash'],
    [`/recordings//${ID}/${R}/index.m3u8`, 'double slash before the playback ID'],
    [`/recordings/${ID}/../${R}/index.m3u8`, 'dot-dot'],
    [`/recordings/${ID}/${R}/../${R}/index.m3u8`, 'dot-dot after the recording'],
    [`/recordings/${ID}/${R}/%2e%2e/index.m3u8`, 'encoded dot-dot'],
    [`/recordings/${ID}/${R}/index%2em3u8`, 'encoded dot'],
    [`/recordings/${ID}%2F${R}/index.m3u8`, 'encoded slash'],
    [`/recordings/${ID}/${R}\\index.m3u8`, 'backslash'],
    [`/recordings/${ID}/${R}/./index.m3u8`, 'dot segment'],
    [`/Recordings/${ID}/${R}/index.m3u8`, 'upper-case prefix'],
    [`/recording/${ID}/${R}/index.m3u8`, 'wrong prefix'],
    [`/recordings/${ID.slice(1)}/${R}/index.m3u8`, 'playback ID too short'],
    [`/recordings/${ID}x/${R}/index.m3u8`, 'playback ID too long'],
    [`/recordings/${ID}/${R.slice(1)}/index.m3u8`, 'recording ID too short'],
    [`/recordings/${ID}/${R}0/index.m3u8`, 'recording ID too long'],
    [`/recordings/${ID}/${R.toUpperCase()}/index.m3u8`, 'upper-case recording ID'],
    [`/recordings/${ID}/${R}/720p.m3u8`, 'another playlist name'],
    [`/recordings/${ID}/${R}/thumbnail.jpg`, 'the live thumbnail name'],
    [`/recordings/${ID}/${R}/${S}_1.ts`, 'a TS segment'],
    [`/recordings/${ID}/${R}/${S}_1.0.m4s`, 'an LL-HLS part'],
    [`/recordings/${ID}/${R}/${S.slice(1)}_1.m4s`, 'session too short'],
    [`/recordings/${ID}/${R}/${S}x_1.m4s`, 'session too long'],
    [`/recordings/${ID}/${R}/${S}_${'1'.repeat(16)}.m4s`, 'segment number too long'],
    [`/recordings/${ID}/${R}/${S}_init.m4s`, 'init with .m4s'],
    [`/recordings/${ID}/${R}/${S}_-1.m4s`, 'negative segment number'],
    [`/recordings/${ID}/${R}/index.m3u8%00`, 'encoded NUL'],
    [`/recordings/${ID}/${R}/${'a'.repeat(MAX_PATH_LENGTH)}.m4s`, 'overlong'],
  ])('refuses %j (%s) with 400', (path) => {
    expect(() => parseRecordingPath(path)).toThrow(BadRequestError);
    expect(() => parseViewerRequest(path)).toThrow(BadRequestError);
  });

  it('is never a live path: the task never serves recordings', () => {
    expect(() => parseOriginRequest(`${BASE}/index.m3u8`)).toThrow(BadRequestError);
    expect(() => parseOriginRequest(`${BASE}/${S}_1.m4s`)).toThrow(BadRequestError);
  });

  it('admits the token on the playlist and the poster only', () => {
    expect(parseViewerRequest(`${BASE}/index.m3u8?token=${TOKEN}`)).toMatchObject({ source: 'recording', token: TOKEN });
    expect(parseViewerRequest(`${BASE}/poster.jpg?token=${TOKEN}`)).toMatchObject({ source: 'recording', token: TOKEN });
    expect(parseViewerRequest(`${BASE}/index.m3u8?`)).toEqual({ source: 'recording', target: parseRecordingPath(`${BASE}/index.m3u8`) });
    for (const url of [
      `${BASE}/${S}_1.m4s?token=${TOKEN}`,
      `${BASE}/${S}_init.mp4?token=${TOKEN}`,
      `${BASE}/${S}_1.m4s?v=1`,
      `${BASE}/index.m3u8?_HLS_msn=1`,
      `${BASE}/index.m3u8?token=${TOKEN}&_HLS_skip=YES`,
      `${BASE}/index.m3u8?token=${TOKEN}&token=${TOKEN}`,
      `${BASE}/index.m3u8?token=abc`,
      `${BASE}/poster.jpg?x=1`,
    ]) {
      expect(() => parseViewerRequest(url), url).toThrow('Invalid query string');
    }
  });

  it('passes live paths through to the live parser', () => {
    expect(parseViewerRequest(`/${ID}/index.m3u8?_HLS_msn=3&token=${TOKEN}`)).toEqual({
      source: 'live',
      ...parseOriginRequest(`/${ID}/index.m3u8?_HLS_msn=3&token=${TOKEN}`),
    });
    expect(parseViewerRequest(`/${ID}/thumbnail.jpg`)).toEqual({ source: 'live', target: parseOriginPath(`/${ID}/thumbnail.jpg`) });
  });
});
