import { describe, expect, it } from 'vitest';
import { BitrateWindow, renderMultivariantPlaylist, withRenditionReports } from '../../../ingest/packager/multivariant';

describe('multivariant playlist', () => {
  it('lists each measured variant with BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION, FRAME-RATE and CODECS, source first', () => {
    const text = renderMultivariantPlaylist(
      [
        {
          name: 'source',
          peakBps: 6_100_000.4,
          averageBps: 5_900_000,
          width: 1920,
          height: 1080,
          frameRate: 30,
          codecs: ['avc1.640028', 'mp4a.40.2'],
        },
        { name: '720p', peakBps: 3_200_000, averageBps: 3_000_000, width: 1280, height: 720, frameRate: 29.97, codecs: ['avc1.64001f', 'mp4a.40.2'] },
        { name: '480p', peakBps: 0, averageBps: 0, width: 854, height: 480, codecs: ['avc1.64001e'] },
      ],
      { independentSegments: true },
    );
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:6',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-STREAM-INF:BANDWIDTH=6100001,AVERAGE-BANDWIDTH=5900000,RESOLUTION=1920x1080,FRAME-RATE=30.000,CODECS="avc1.640028,mp4a.40.2"',
        'source.m3u8',
        '#EXT-X-STREAM-INF:BANDWIDTH=3200000,AVERAGE-BANDWIDTH=3000000,RESOLUTION=1280x720,FRAME-RATE=29.970,CODECS="avc1.64001f,mp4a.40.2"',
        '720p.m3u8',
        '',
      ].join('\n'),
    );
  });

  it('AVERAGE-BANDWIDTH never exceeds BANDWIDTH; an audio-only variant has no RESOLUTION', () => {
    const text = renderMultivariantPlaylist([{ name: 'source', peakBps: 100_000, averageBps: 120_000, codecs: ['mp4a.40.2'] }]);
    expect(text).toContain('#EXT-X-STREAM-INF:BANDWIDTH=100000,AVERAGE-BANDWIDTH=100000,CODECS="mp4a.40.2"\nsource.m3u8');
    expect(text).not.toContain('RESOLUTION');
  });
});

describe('rendition reports', () => {
  const live = '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.000,\na_1.m4s\n';
  it('are appended for each other rendition, with LAST-PART when known', () => {
    expect(
      withRenditionReports(live, [
        { name: '720p', lastMsn: 12, lastPart: 2 },
        { name: 'source', lastMsn: 12 },
      ]),
    ).toBe(`${live}#EXT-X-RENDITION-REPORT:URI="720p.m3u8",LAST-MSN=12,LAST-PART=2\n#EXT-X-RENDITION-REPORT:URI="source.m3u8",LAST-MSN=12\n`);
  });
  it('go before the ENDLIST of an ended playlist; none leaves it unchanged', () => {
    const ended = `${live}#EXT-X-ENDLIST\n`;
    expect(withRenditionReports(ended, [{ name: '480p', lastMsn: 3 }])).toBe(
      `${live}#EXT-X-RENDITION-REPORT:URI="480p.m3u8",LAST-MSN=3\n#EXT-X-ENDLIST\n`,
    );
    expect(withRenditionReports(ended, [])).toBe(ended);
  });
});

describe('BitrateWindow', () => {
  it('peak and mean over the last N segments; short segments do not set the peak', () => {
    const w = new BitrateWindow(3);
    w.add(125_000, 1); // 1 Mbit/s
    w.add(10_000, 0.1); // 0.8 Mbit/s but short
    w.add(250_000, 1); // 2 Mbit/s
    expect(w.peakBps).toBe(2_000_000);
    expect(w.averageBps).toBeCloseTo(((125_000 + 10_000 + 250_000) * 8) / 2.1, 3);
    w.add(125_000, 1);
    w.add(125_000, 1);
    w.add(125_000, 1); // the 2 Mbit/s one left the window
    expect(w.peakBps).toBe(1_000_000);
  });
});
