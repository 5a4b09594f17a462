/** The recording playlist renderer: EVENT while live, VOD at the end, a MAP per init, discontinuities. */
import { describe, expect, it } from 'vitest';
import { type RecordedSegment, renderRecordingPlaylist } from '../../../ingest/recorder';

const T = Date.UTC(2026, 0, 1);
const seg = (uri: string, over: Partial<RecordedSegment> = {}): RecordedSegment => ({
  uri,
  durationSeconds: 1,
  programDateTime: T,
  discontinuity: false,
  initUri: 'aaaaaaaaaa_init.mp4',
  ...over,
});

describe('renderRecordingPlaylist', () => {
  it('live: an EVENT playlist with one MAP and a program date-time, no ENDLIST', () => {
    const text = renderRecordingPlaylist([seg('aaaaaaaaaa_1.m4s'), seg('aaaaaaaaaa_2.m4s', { programDateTime: T + 1000 })], {
      ended: false,
      targetDurationSeconds: 1,
    });
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:6',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-MEDIA-SEQUENCE:0',
        '#EXT-X-PLAYLIST-TYPE:EVENT',
        '#EXT-X-MAP:URI="aaaaaaaaaa_init.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z',
        '#EXTINF:1.000,',
        'aaaaaaaaaa_1.m4s',
        '#EXTINF:1.000,',
        'aaaaaaaaaa_2.m4s',
        '',
      ].join('\n'),
    );
  });

  it('ended: VOD with ENDLIST; a discontinuity brings a new MAP and date-time; a long segment raises the target', () => {
    const text = renderRecordingPlaylist(
      [
        seg('aaaaaaaaaa_1.m4s'),
        seg('bbbbbbbbbb_1.m4s', { discontinuity: true, initUri: 'bbbbbbbbbb_init.mp4', programDateTime: T + 30_000, durationSeconds: 2.6 }),
      ],
      { ended: true, targetDurationSeconds: 1 },
    );
    expect(text).toContain('#EXT-X-TARGETDURATION:3');
    expect(text).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(text.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    const tail = text.slice(text.indexOf('aaaaaaaaaa_1.m4s'));
    expect(tail.split('\n').slice(1, 6)).toEqual([
      '#EXT-X-DISCONTINUITY',
      '#EXT-X-MAP:URI="bbbbbbbbbb_init.mp4"',
      '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:30.000Z',
      '#EXTINF:2.600,',
      'bbbbbbbbbb_1.m4s',
    ]);
  });

  it('an init change without a discontinuity flag still gets its MAP', () => {
    const text = renderRecordingPlaylist([seg('a_1.m4s'), seg('a_2.m4s', { initUri: 'a2_init.mp4' })], { ended: false, targetDurationSeconds: 2 });
    expect(text.match(/#EXT-X-MAP/g)).toHaveLength(2);
    expect(text).toContain('#EXT-X-TARGETDURATION:2');
  });
});
