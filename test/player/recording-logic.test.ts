import { describe, expect, it } from 'vitest';
import { listView, RECENT_RECORDINGS } from '../../player/src/streams-view';
import { streamsPage, watchPage } from '../../player/pages';
import {
  formatClock,
  LIVE_SNAP_SECONDS,
  mediaAt,
  parseTimeline,
  planSeek,
  timelineEndMs,
  timelineFromFragments,
  timelineStartMs,
  wallAt,
} from '../../player/src/timeline';
import {
  fillLink,
  livePlaylistUrl,
  recordingFromPlaybackUrl,
  recordingFromSearch,
  recordingPlaylistUrl,
  recordingPosterUrl,
  replayTemplate,
  resolveUrl,
  thumbnailUrl,
  tokenFromSearch,
  withToken,
} from '../../player/src/urls';

/** The pure parts of live rewind, replays and the stream list: seek mapping, URLs with tokens, list rendering. */

const T0 = Date.parse('2030-01-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const PID = 'AAAAbbbb1111';
const RID = '0lzq3k5x9abcdefg';
const TOKEN = `1893456000.${'a'.repeat(43)}`;

/** An EVENT recording: 5 × 1 s of one publish, a reconnect 10 s later, 3 × 1 s of the next. */
function recording(opts: { ended?: boolean } = {}): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-TARGETDURATION:1', '#EXT-X-MEDIA-SEQUENCE:0'];
  lines.push(`#EXT-X-PLAYLIST-TYPE:${opts.ended ? 'VOD' : 'EVENT'}`, '#EXT-X-MAP:URI="aaaaaaaaaa_init.mp4"');
  lines.push(`#EXT-X-PROGRAM-DATE-TIME:${iso(T0)}`);
  for (let i = 0; i < 5; i++) lines.push('#EXTINF:1.000,', `aaaaaaaaaa_${i}.m4s`);
  lines.push('#EXT-X-DISCONTINUITY', '#EXT-X-MAP:URI="bbbbbbbbbb_init.mp4"', `#EXT-X-PROGRAM-DATE-TIME:${iso(T0 + 15_000)}`);
  for (let i = 0; i < 3; i++) lines.push('#EXTINF:1.000,', `bbbbbbbbbb_${i}.m4s`);
  if (opts.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

describe('recording timeline', () => {
  it('parses segments on the media clock and the wall clock, across a discontinuity', () => {
    const t = parseTimeline(recording())!;
    expect(t.type).toBe('EVENT');
    expect(t.ended).toBe(false);
    expect(t.segments).toHaveLength(8);
    expect(t.durationSeconds).toBe(8);
    expect(t.segments[4]).toEqual({ start: 4, duration: 1, pdtMs: T0 + 4000 });
    // After the reconnect: media time goes on from 5 s, the wall clock jumps to the new publish.
    expect(t.segments[5]).toEqual({ start: 5, duration: 1, pdtMs: T0 + 15_000 });
    expect(timelineStartMs(t)).toBe(T0);
    expect(timelineEndMs(t)).toBe(T0 + 18_000);
    const vod = parseTimeline(recording({ ended: true }))!;
    expect(vod).toMatchObject({ type: 'VOD', ended: true, durationSeconds: 8 });
  });

  it('takes program date-time before or after EXTINF, and carries it on over untagged segments', () => {
    const text = ['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXTINF:2.0,', `#EXT-X-PROGRAM-DATE-TIME:${iso(T0)}`, 'a.m4s', '#EXTINF:1.5,', 'b.m4s'].join(
      '\n',
    );
    const t = parseTimeline(text)!;
    expect(t.segments).toEqual([
      { start: 0, duration: 2, pdtMs: T0 },
      { start: 2, duration: 1.5, pdtMs: T0 + 2000 },
    ]);
    expect(t.targetSeconds).toBe(2);
    expect(parseTimeline('not a playlist')).toBeUndefined();
    expect(parseTimeline('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nx.m3u8\n')).toBeUndefined();
    expect(parseTimeline('#EXTM3U\n#EXT-X-TARGETDURATION:1\n')).toBeUndefined();
  });

  it('maps the wall clock to media time and back', () => {
    const t = parseTimeline(recording())!;
    expect(mediaAt(t, T0)).toBe(0);
    expect(mediaAt(t, T0 + 2500)).toBe(2.5);
    expect(wallAt(t, 2.5)).toBe(T0 + 2500);
    // In the gap between the publishes: the start of the next segment there is.
    expect(mediaAt(t, T0 + 9000)).toBe(5);
    expect(mediaAt(t, T0 + 16_250)).toBe(6.25);
    expect(wallAt(t, 6.25)).toBe(T0 + 16_250);
    // Clamped to the recording.
    expect(mediaAt(t, T0 - 60_000)).toBe(0);
    expect(mediaAt(t, T0 + 60_000)).toBe(8);
    expect(wallAt(t, 100)).toBe(T0 + 18_000);
    for (let m = 0; m < 8; m += 0.25) expect(mediaAt(t, wallAt(t, m)!)).toBeCloseTo(m, 9);
    expect(mediaAt(parseTimeline('#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\na.ts\n')!, T0)).toBeUndefined();
  });

  it("builds the same timeline from hls.js's fragments", () => {
    const parsed = parseTimeline(recording())!;
    const frags = parsed.segments.map((s) => ({ start: s.start, duration: s.duration, programDateTime: s.pdtMs ?? null }));
    expect(timelineFromFragments(frags, { ended: false, targetSeconds: 1, type: 'EVENT' })).toEqual(parsed);
    expect(timelineFromFragments([], { ended: true, targetSeconds: 1 })).toBeUndefined();
  });

  it('plans a seek: the recording from the mapped position, or back to the live playlist near the edge', () => {
    const t = parseTimeline(recording())!;
    const nowMs = T0 + 19_500; // the recording lags the edge by its uploads
    expect(planSeek(T0, { nowMs, recording: t })).toEqual({ kind: 'recording', position: 0 });
    expect(planSeek(T0 + 3000, { nowMs, recording: t })).toEqual({ kind: 'recording', position: 3 });
    // Within the snap distance of now, or past what the recording holds yet (less one segment): live.
    expect(planSeek(nowMs - (LIVE_SNAP_SECONDS - 1) * 1000, { nowMs, recording: t })).toEqual({ kind: 'live' });
    expect(planSeek(T0 + 17_500, { nowMs: T0 + 60_000, recording: t })).toEqual({ kind: 'live' });
    expect(planSeek(T0 + 16_000, { nowMs: T0 + 60_000, recording: t })).toEqual({ kind: 'recording', position: 6 });
    // No recording known: nothing to rewind to.
    expect(planSeek(T0, { nowMs })).toEqual({ kind: 'live' });
    // An ended recording plays to its end.
    const vod = parseTimeline(recording({ ended: true }))!;
    expect(planSeek(T0 + 17_500, { nowMs: T0 + 60_000, recording: vod })).toEqual({ kind: 'recording', position: 7.5 });
  });

  it('formats clock times', () => {
    expect(formatClock(0)).toBe('0:00');
    expect(formatClock(65.9)).toBe('1:05');
    expect(formatClock(3723)).toBe('1:02:03');
    expect(formatClock(Number.NaN)).toBe('0:00');
    expect(formatClock(-3)).toBe('0:00');
  });
});

describe('URLs and playback tokens', () => {
  const base = 'https://d123.cloudfront.net';

  it('adds the token to playlists, posters and thumbnails, and nothing without one', () => {
    const ref = { playbackId: PID, recordingId: RID };
    expect(livePlaylistUrl(base, PID)).toBe(`${base}/${PID}/index.m3u8`);
    expect(livePlaylistUrl(base, PID, TOKEN)).toBe(`${base}/${PID}/index.m3u8?token=${TOKEN}`);
    expect(recordingPlaylistUrl(base, ref, TOKEN)).toBe(`${base}/recordings/${PID}/${RID}/index.m3u8?token=${TOKEN}`);
    expect(recordingPosterUrl(base, ref, TOKEN)).toBe(`${base}/recordings/${PID}/${RID}/poster.jpg?token=${TOKEN}`);
    expect(recordingPosterUrl(base, ref)).toBe(`${base}/recordings/${PID}/${RID}/poster.jpg`);
    expect(thumbnailUrl(base, PID, TOKEN)).toBe(`${base}/${PID}/thumbnail.jpg?token=${TOKEN}`);
    expect(withToken(`${base}/a?x=1#f`, TOKEN)).toBe(`${base}/a?x=1&token=${TOKEN}#f`);
    expect(withToken(`${base}/a`, undefined)).toBe(`${base}/a`);
  });

  it('reads only a well-formed token from the page address', () => {
    expect(tokenFromSearch(`?token=${TOKEN}`)).toBe(TOKEN);
    expect(tokenFromSearch('?token=nope')).toBeUndefined();
    expect(tokenFromSearch(`?token=${TOKEN}"><script>`)).toBeUndefined();
    expect(tokenFromSearch('')).toBeUndefined();
  });

  it("reads the recording from the page address, in both forms, and refuses another channel's", () => {
    expect(recordingFromSearch(`?recording=${PID}/${RID}`, undefined)).toEqual({ playbackId: PID, recordingId: RID });
    expect(recordingFromSearch(`?recording=${PID}%2F${RID}`, undefined)).toEqual({ playbackId: PID, recordingId: RID });
    expect(recordingFromSearch(`?v=${PID}&recording=${RID}`, PID)).toEqual({ playbackId: PID, recordingId: RID });
    expect(recordingFromSearch(`?recording=${RID}`, undefined)).toBeUndefined();
    expect(recordingFromSearch(`?recording=${PID}/${RID}`, 'ZZZZyyyy9999')).toBeUndefined();
    expect(recordingFromSearch(`?recording=${PID}/../../x`, undefined)).toBeUndefined();
    expect(recordingFromSearch(`?recording=${PID}/${RID.toUpperCase()}`, undefined)).toBeUndefined();
    expect(recordingFromSearch('', PID)).toBeUndefined();
  });

  it('resolves the API relative URLs under the playback base, http(s) only', () => {
    expect(resolveUrl(`/${PID}/thumbnail.jpg`, base)).toBe(`${base}/${PID}/thumbnail.jpg`);
    expect(resolveUrl(`/${PID}/thumbnail.jpg`, 'http://127.0.0.1:8080/')).toBe(`http://127.0.0.1:8080/${PID}/thumbnail.jpg`);
    expect(resolveUrl('https://other.example/x.jpg', base)).toBe('https://other.example/x.jpg');
    expect(resolveUrl('javascript:alert(1)', base)).toBeUndefined();
    expect(resolveUrl(undefined, base)).toBeUndefined();
    expect(resolveUrl(42, base)).toBeUndefined();
    expect(recordingFromPlaybackUrl(`/recordings/${PID}/${RID}/index.m3u8`)).toEqual({ playbackId: PID, recordingId: RID });
    expect(recordingFromPlaybackUrl(`${base}/recordings/${PID}/${RID}/index.m3u8?token=x`)).toEqual({ playbackId: PID, recordingId: RID });
    expect(recordingFromPlaybackUrl('/recordings/x/y/index.m3u8')).toBeUndefined();
  });

  it('fills the list links, local and CloudFront forms', () => {
    expect(fillLink('/watch/{id}', PID)).toBe(`/watch/${PID}`);
    expect(fillLink(replayTemplate('/watch/{id}'), PID, RID)).toBe(`/watch/${PID}?recording=${RID}`);
    expect(fillLink(replayTemplate('/watch/index.html?v={id}'), PID, RID)).toBe(`/watch/index.html?v=${PID}&recording=${RID}`);
    // The page takes the replay link from its own data attribute, the default derived the same way.
    expect(streamsPage({ playerLink: '/watch/{id}', api: '/api/streams' })).toContain('data-replay-link="/watch/{id}?recording={recording}"');
    expect(streamsPage({ playerLink: '/watch/index.html?v={id}', api: '/api/streams' })).toContain(
      'data-replay-link="/watch/index.html?v={id}&amp;recording={recording}"',
    );
    expect(watchPage({ streamsHref: '/' })).toMatch(/<input id="seek" type="range"/);
  });
});

describe('the stream list', () => {
  const links = { playerLink: '/watch/{id}', replayLink: '/watch/{id}?recording={recording}', base: 'http://127.0.0.1:8080' };
  const NOW = T0 + 600_000;
  const rec = (id: string, over: Record<string, unknown> = {}) => ({
    id,
    playbackId: PID,
    channel: 'alpha',
    state: 'ready',
    startedAt: iso(T0),
    endedAt: iso(T0 + 125_000),
    durationSeconds: 125.4,
    playbackUrl: `/recordings/${PID}/${id}/index.m3u8`,
    posterUrl: `/recordings/${PID}/${id}/poster.jpg`,
    ...over,
  });

  it('shows live streams with their thumbnail, and recent recordings with poster, duration and replay link', () => {
    const body = {
      streams: [
        {
          playbackId: PID,
          name: 'alpha',
          startedAt: iso(NOW - 90_000),
          thumbnailUrl: `/${PID}/thumbnail.jpg`,
          recording: { id: RID, playbackUrl: `/recordings/${PID}/${RID}/index.m3u8` },
        },
      ],
      recordings: [
        rec(RID, { state: 'recording', startedAt: iso(NOW - 90_000), endedAt: undefined, durationSeconds: 88 }),
        rec('0lzq3k5x1aaaaaaa'),
        rec('0lzq3k5x2aaaaaaa', { state: 'incomplete', startedAt: iso(T0 + 1000) }),
        rec('0lzq3k5x3aaaaaaa', { state: 'failed' }),
      ],
    };
    const view = listView(body, links, NOW);
    expect(view.live).toEqual([
      {
        playbackId: PID,
        name: 'alpha',
        href: `/watch/${PID}`,
        meta: 'live for 1 min',
        thumbnail: `http://127.0.0.1:8080/${PID}/thumbnail.jpg`,
        recorded: true,
      },
    ]);
    expect(view.recordings.map((r) => [r.id, r.state, r.duration, r.meta])).toEqual([
      [RID, 'recording', 'LIVE', '2030-01-01 12:08 · live now'],
      ['0lzq3k5x2aaaaaaa', 'incomplete', '2:05', '2030-01-01 12:00 · incomplete'],
      ['0lzq3k5x1aaaaaaa', 'ready', '2:05', '2030-01-01 12:00'],
    ]);
    expect(view.recordings[2]).toEqual({
      id: '0lzq3k5x1aaaaaaa',
      playbackId: PID,
      title: 'alpha',
      href: `/watch/${PID}?recording=0lzq3k5x1aaaaaaa`,
      state: 'ready',
      poster: `http://127.0.0.1:8080/recordings/${PID}/0lzq3k5x1aaaaaaa/poster.jpg`,
      duration: '2:05',
      meta: '2030-01-01 12:00',
    });
  });

  it('copes with an older origin (no thumbnails, no recordings) and with malformed entries', () => {
    expect(listView({ streams: [{ playbackId: PID, name: 'alpha', startedAt: iso(NOW) }] }, links, NOW)).toEqual({
      live: [{ playbackId: PID, name: 'alpha', href: `/watch/${PID}`, meta: 'live for 0 s', recorded: false }],
      recordings: [],
    });
    expect(listView(undefined, links, NOW)).toEqual({ live: [], recordings: [] });
    expect(listView({ streams: 'x', recordings: {} }, links, NOW)).toEqual({ live: [], recordings: [] });
    const bad = listView(
      {
        streams: [null, { playbackId: '../x', name: 'n' }, { playbackId: PID, thumbnailUrl: 'javascript:x', recording: { playbackUrl: 5 } }],
        recordings: [
          rec('short'),
          rec(RID, { playbackId: 'bad' }),
          rec(RID, { state: 'deleting' }),
          rec(RID, { posterUrl: undefined, durationSeconds: 'x', channel: undefined, startedAt: 'never' }),
        ],
      },
      links,
      NOW,
    );
    expect(bad.live).toEqual([{ playbackId: PID, name: PID, href: `/watch/${PID}`, meta: '', recorded: false }]);
    expect(bad.recordings).toEqual([
      { id: RID, playbackId: PID, title: PID, href: `/watch/${PID}?recording=${RID}`, state: 'ready', duration: '0:00', meta: '' },
    ]);
  });

  it('shows at most the newest RECENT_RECORDINGS, newest first, epoch ms or ISO start times alike', () => {
    const many = Array.from({ length: RECENT_RECORDINGS + 5 }, (_, i) =>
      rec(`0lzq3k5x${String(i).padStart(2, '0')}aaaaaa`, { startedAt: i % 2 ? T0 + i * 1000 : iso(T0 + i * 1000) }),
    );
    const view = listView({ streams: [], recordings: many }, links, NOW);
    expect(view.recordings).toHaveLength(RECENT_RECORDINGS);
    expect(view.recordings[0].id).toBe(`0lzq3k5x${RECENT_RECORDINGS + 4}aaaaaa`);
  });
});
