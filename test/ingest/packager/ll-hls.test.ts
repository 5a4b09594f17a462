import { describe, expect, it } from 'vitest';
import { parseOriginPath } from '../../../core/hls/paths';
import { partUri, renderMediaPlaylist } from '../../../ingest/packager/index.js';
import { collect, runFeed } from './support/run.js';
import { feed } from './support/synth.js';

/** The LL-HLS attributes of one tag line, e.g. `DURATION=0.334,URI="…",INDEPENDENT=YES`. */
function attributes(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.slice(line.indexOf(':') + 1).matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)) out[m[1]] = m[2].replace(/^"|"$/g, '');
  return out;
}

/** Checks one LL playlist against the rules players enforce; returns its parts. */
function checkPlaylist(text: string): { uri: string; duration: number; independent: boolean }[] {
  const lines = text.trimEnd().split('\n');
  const partInf = lines.filter((l) => l.startsWith('#EXT-X-PART-INF:'));
  expect(partInf).toHaveLength(1);
  const target = Number(attributes(partInf[0])['PART-TARGET']);
  const control = attributes(lines.find((l) => l.startsWith('#EXT-X-SERVER-CONTROL:'))!);
  expect(control['CAN-BLOCK-RELOAD']).toBe('YES');
  expect(Number(control['PART-HOLD-BACK'])).toBeGreaterThanOrEqual(3 * target - 1e-9);
  const targetDuration = Number(lines.find((l) => l.startsWith('#EXT-X-TARGETDURATION:'))!.split(':')[1]);
  expect(Number(control['HOLD-BACK'])).toBeGreaterThanOrEqual(3 * targetDuration);
  const parts = lines
    .filter((l) => l.startsWith('#EXT-X-PART:'))
    .map((l) => attributes(l))
    .map((a) => ({ uri: a.URI, duration: Number(a.DURATION), independent: a.INDEPENDENT === 'YES' }));
  // Apple's player rejects the asset when one part is longer than PART-TARGET.
  for (const p of parts) expect(p.duration, p.uri).toBeLessThanOrEqual(target);
  for (const p of parts) expect(parseOriginPath(`/AbCdEfGhIjKl/${p.uri}`).kind).toBe('part');
  return parts;
}

describe('LL-HLS playlists', () => {
  it('lists parts ≤ PART-TARGET for the last 3 segments and the open one, a preload hint, and server control', () => {
    const c = collect({ lowLatency: true });
    const messages = feed({ seconds: 8, video: { fps: 30, gopFrames: 60, bitrate: 2_000_000, bframes: 2 }, audio: { sampleRate: 48000 } });
    runFeed(c, messages, { end: false });
    expect(c.errors).toEqual([]);
    // A playlist per part: parts are announced as soon as they are written.
    expect(c.playlists.length).toBe(c.fragments.length);
    const text = c.packager.playlist();
    expect(text).toContain('#EXT-X-PART-INF:PART-TARGET=0.334\n');
    expect(text).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002,HOLD-BACK=3\n');
    const parts = checkPlaylist(text);
    const last = c.fragments.at(-1)!;
    const open = c.fragments.filter((f) => f.msn === last.msn && !c.segments.some((s) => s.msn === f.msn));
    // Parts of the 3 newest complete segments plus the open segment's.
    const withParts = c.segments.slice(-3);
    expect(parts.map((p) => p.uri)).toEqual([...withParts.flatMap((s) => s.parts.map((_, i) => partUri(s.uri, i))), ...open.map((f) => f.name)]);
    // Every segment's parts add up to it, a keyframe part is INDEPENDENT, and every part's name is its fragment's.
    for (const s of withParts) expect(s.parts.reduce((t, p) => t + p.duration, 0)).toBeCloseTo(s.duration, 6);
    expect(parts.filter((p) => p.independent).length).toBeGreaterThan(0);
    const segmentIndependent = withParts.filter((s) => s.independent).map((s) => partUri(s.uri, 0));
    for (const uri of segmentIndependent) expect(parts.find((p) => p.uri === uri)?.independent).toBe(true);
    // The preload hint names the next part, after the last listed one.
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"\n$/.exec(text)?.[1];
    const next = open.length > 0 ? partUri(`${c.packager['seg']!.name}`, open.length) : `testsessn1_${last.msn + 1}.0.m4s`;
    expect(hint).toBe(next);
    // The fragment names are what parseOriginPath reads back.
    const p = parseOriginPath(`/AbCdEfGhIjKl/${last.name}`);
    expect([p.msn, p.part, p.session]).toEqual([last.msn, last.index, 'testsessn1']);
  });

  it('keeps every part of every playlist of a 30 s run ≤ PART-TARGET, at 25, 30 and 60 fps and audio-only', () => {
    for (const spec of [
      { video: { fps: 25, gopFrames: 50, bitrate: 1_000_000 }, audio: { sampleRate: 48000 } },
      { video: { fps: 30, gopFrames: 250, bitrate: 1_000_000, bframes: 2 }, audio: { sampleRate: 44100 } },
      { video: { fps: 60, gopFrames: 120, bitrate: 1_000_000 }, audio: false as const },
      { video: false as const, audio: { sampleRate: 48000 } },
    ]) {
      const c = collect({ lowLatency: true });
      runFeed(c, feed({ seconds: 30, ...spec }));
      expect(c.errors).toEqual([]);
      for (const text of c.playlists.slice(0, -1)) checkPlaylist(text);
      for (const f of c.fragments) expect(f.part.duration).toBeLessThanOrEqual(0.334);
      // The final playlist is over: ENDLIST, no preload hint and no open segment.
      const end = c.playlists.at(-1)!;
      expect(end).toMatch(/#EXT-X-ENDLIST\n$/);
      expect(end).not.toContain('PRELOAD-HINT');
      if (!spec.video) expect(c.fragments.every((f) => f.part.independent)).toBe(true);
    }
  });

  it('renders a plain RFC 8216 playlist without lowLatency (the default)', () => {
    const c = collect();
    runFeed(c, feed({ seconds: 3, video: { fps: 30, gopFrames: 30, bitrate: 500_000 }, audio: { sampleRate: 48000 } }));
    expect(c.playlists.length).toBe(c.segments.length + 1);
    expect(c.playlists.join('')).not.toMatch(/EXT-X-PART|SERVER-CONTROL|PRELOAD-HINT/);
  });

  it('opens the first playlist with the open segment alone, before any segment is complete', () => {
    const text = renderMediaPlaylist({
      targetDuration: 1,
      ended: false,
      independentSegments: false,
      segments: [],
      lowLatency: {
        partTarget: 0.25,
        open: {
          msn: 40,
          uri: 'aaaaaaaaaa_40.m4s',
          programDateTimeMs: Date.UTC(2025, 0, 1),
          discontinuity: true,
          discontinuitySequence: 3,
          initUri: 'aaaaaaaaaa_init.mp4',
          parts: [{ duration: 0.25, independent: true, offset: 0, length: 10 }],
        },
        preloadHint: 'aaaaaaaaaa_40.1.m4s',
      },
    });
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:6',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.75,HOLD-BACK=3',
        '#EXT-X-PART-INF:PART-TARGET=0.25',
        '#EXT-X-MEDIA-SEQUENCE:40',
        '#EXT-X-DISCONTINUITY-SEQUENCE:2',
        '#EXT-X-DISCONTINUITY',
        '#EXT-X-MAP:URI="aaaaaaaaaa_init.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00.000Z',
        '#EXT-X-PART:DURATION=0.25,URI="aaaaaaaaaa_40.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="aaaaaaaaaa_40.1.m4s"',
        '',
      ].join('\n'),
    );
  });
});
