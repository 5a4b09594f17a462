import { describe, expect, it } from 'vitest';
import { type PlaylistSegment, renderMediaPlaylist } from '../../../ingest/packager/index.js';

const seg = (msn: number, over: Partial<PlaylistSegment> = {}): PlaylistSegment => ({
  msn,
  uri: `aaaaaaaaaa_${msn}.m4s`,
  duration: 1,
  programDateTimeMs: Date.UTC(2025, 0, 1, 0, 0, msn),
  discontinuity: false,
  discontinuitySequence: 5,
  initUri: 'aaaaaaaaaa_init.mp4',
  independent: true,
  parts: [],
  ...over,
});

describe('renderMediaPlaylist', () => {
  it('renders a live window with a new MAP after a discontinuity', () => {
    const text = renderMediaPlaylist({
      targetDuration: 1,
      ended: false,
      independentSegments: false,
      segments: [
        seg(10, { duration: 0.9996 }),
        seg(11, { discontinuity: true, discontinuitySequence: 6, initUri: 'bbbbbbbbbb_init.mp4', uri: 'bbbbbbbbbb_11.m4s' }),
      ],
    });
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:6',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-MEDIA-SEQUENCE:10',
        '#EXT-X-DISCONTINUITY-SEQUENCE:5',
        '#EXT-X-MAP:URI="aaaaaaaaaa_init.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:10.000Z',
        '#EXTINF:1.000,',
        'aaaaaaaaaa_10.m4s',
        '#EXT-X-DISCONTINUITY',
        '#EXT-X-MAP:URI="bbbbbbbbbb_init.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:11.000Z',
        '#EXTINF:1.000,',
        'bbbbbbbbbb_11.m4s',
        '',
      ].join('\n'),
    );
  });

  it('counts a discontinuity on the first segment out of the sequence number, and ends with ENDLIST', () => {
    const text = renderMediaPlaylist({
      targetDuration: 2,
      ended: true,
      independentSegments: true,
      segments: [seg(11, { discontinuity: true, discontinuitySequence: 6 })],
    });
    expect(text).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:5\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-DISCONTINUITY\n');
    expect(text.endsWith('#EXT-X-ENDLIST\n')).toBe(true);
  });
});
