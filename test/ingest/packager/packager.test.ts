import { describe, expect, it } from 'vitest';
import type { SegmentOutput } from '../../../ingest/packager/index.js';
import { parseMp4 } from './support/mp4.js';
import { collect, runFeed, T0 } from './support/run.js';
import { aacConfig, aacSequenceTag, avcFrameTag, avcRecord, avcSequenceTag, buildSps, feed, type Message } from './support/synth.js';

const VIDEO = 1;
const AUDIO = 2;

function countOf(messages: readonly Message[], type: number, kind = 1): number {
  return messages.filter((m) => m.type === type && m.payload[1] === kind).length;
}

/** Checks tfdt continuity and positive, bounded durations for each track of a parsed file. */
function checkTimeline(bytes: Buffer, maxDurationSeconds = 1): ReturnType<typeof parseMp4> {
  const mp4 = parseMp4(bytes);
  for (const t of mp4.info.tracks) {
    const samples = mp4.samples.get(t.id)!;
    for (let i = 0; i < samples.length; i++) {
      expect(samples[i].duration).toBeGreaterThan(0);
      expect(samples[i].duration).toBeLessThanOrEqual(maxDurationSeconds * t.timescale);
      if (i > 0) expect(samples[i].dts).toBe(samples[i - 1].dts + samples[i - 1].duration);
    }
  }
  return mp4;
}

describe('AVC + AAC', () => {
  it('packages 48 kHz audio and B-frame video; mp4box reads back the configuration, samples and offsets', () => {
    const messages = feed({ seconds: 4, video: { fps: 30, gopFrames: 60, bitrate: 3_000_000, bframes: 2 }, audio: { sampleRate: 48000 } });
    const c = collect();
    runFeed(c, messages);
    expect(c.errors).toEqual([]);
    expect(c.inits.map((i) => [i.name, i.codecs])).toEqual([['testsessn1_init.mp4', ['avc1.64001f', 'mp4a.40.2']]]);
    const mp4 = checkTimeline(c.file());
    const [v, a] = mp4.info.tracks;
    expect(v).toMatchObject({ id: VIDEO, codec: 'avc1.64001f', timescale: 90000, video: { width: 1280, height: 720 } });
    expect(a).toMatchObject({ id: AUDIO, codec: 'mp4a.40.2', timescale: 48000, audio: { sample_rate: 48000, channel_count: 2 } });
    const vs = mp4.samples.get(VIDEO)!;
    const as = mp4.samples.get(AUDIO)!;
    expect(vs).toHaveLength(countOf(messages, 9));
    expect(as).toHaveLength(countOf(messages, 8));
    expect(new Set(as.map((s) => s.duration))).toEqual(new Set([1024]));
    // Composition offsets are the FLV ones (ms × 90).
    const frames = messages.filter((m) => m.type === 9 && m.payload[1] === 1);
    for (const [i, s] of vs.entries()) expect(s.cts - s.dts).toBe(frames[i].payload.readIntBE(2, 3) * 90);
    expect(vs.filter((s) => s.is_sync)).toHaveLength(2);
    // Decode times are on the wall clock: the first frame is at the anchor (T0).
    expect(vs[0].dts).toBe(T0 * 90);
    // Every moof's tfdt continues the previous one.
    for (const id of [VIDEO, AUDIO]) {
      const samples = mp4.samples.get(id)!;
      const tfdts = mp4.moofs.map((m) => m.tfdt.get(id)).filter((x) => x !== undefined);
      for (const t of tfdts) expect(samples.some((s) => s.dts === t)).toBe(true);
    }
    expect(mp4.moofs.map((m) => m.seq)).toEqual(mp4.moofs.map((_, i) => i + 1));
  });

  it('cuts fragments ≤ fragmentSeconds and segments on a segmentSeconds grid, keyframe-aligned for a 2 s GOP', () => {
    const c = collect();
    runFeed(c, feed({ seconds: 6, video: { fps: 30, gopFrames: 60, bitrate: 3_000_000 } }));
    expect(c.segments.map((s) => s.msn)).toEqual([100, 101, 102, 103, 104, 105]);
    expect(c.segments.map((s) => s.name)).toEqual([100, 101, 102, 103, 104, 105].map((n) => `testsessn1_${n}.m4s`));
    for (const s of c.segments) {
      expect(s.duration).toBeCloseTo(1, 2);
      expect(s.parts).toHaveLength(3);
      for (const p of s.parts) expect(p.duration).toBeLessThanOrEqual(0.334 + 1e-9);
      expect(s.byteLength).toBe(s.chunks.reduce((n, b) => n + b.length, 0));
    }
    expect(c.segments.map((s) => s.independent)).toEqual([true, false, true, false, true, false]);
    expect(c.fragments).toHaveLength(18);
    expect(c.playlists.at(-1)).not.toContain('#EXT-X-INDEPENDENT-SEGMENTS');
  });

  it('cuts fragments on time without keyframes and keeps a 1 s GOP stream fully independent', () => {
    const c = collect({ fragmentSeconds: 0.2 });
    runFeed(c, feed({ seconds: 3, video: { fps: 25, gopFrames: 25, bitrate: 2_000_000 } }));
    expect(c.segments.every((s) => s.independent)).toBe(true);
    expect(c.segments[0].parts.map((p) => p.independent)).toEqual([true, false, false, false, false]);
    expect(c.playlists.at(-1)).toContain('#EXT-X-INDEPENDENT-SEGMENTS');
  });

  it('packages 44.1 kHz AAC with 1024-sample durations in a 44100 timescale', () => {
    const messages = feed({ seconds: 3, audio: { sampleRate: 44100 } });
    const c = collect();
    runFeed(c, messages);
    const mp4 = checkTimeline(c.file());
    expect(mp4.info.tracks[1]).toMatchObject({ timescale: 44100, audio: { sample_rate: 44100 } });
    expect(mp4.samples.get(AUDIO)).toHaveLength(countOf(messages, 8));
    expect(new Set(mp4.samples.get(AUDIO)!.map((s) => s.duration))).toEqual(new Set([1024]));
  });

  it.each([300, -300])('puts audio up to the video cut into the same fragment when audio is sent %i ms early', (skew) => {
    const c = collect();
    runFeed(c, feed({ seconds: 4, audioSkewMs: skew }));
    expect(c.errors).toEqual([]);
    const mp4 = checkTimeline(c.file());
    for (const m of mp4.moofs.slice(1)) {
      const v = m.tfdt.get(VIDEO)! / 90000;
      const a = m.tfdt.get(AUDIO)! / 48000;
      expect(Math.abs(a - v)).toBeLessThanOrEqual(1024 / 48000);
    }
  });
});

describe('track set', () => {
  it('audio only: one mp4a track, audio leads the cuts, every segment independent', () => {
    const messages = feed({ seconds: 3, video: false });
    const c = collect();
    runFeed(c, messages);
    expect(c.inits[0].codecs).toEqual(['mp4a.40.2']);
    const mp4 = checkTimeline(c.file());
    expect(mp4.info.tracks).toHaveLength(1);
    expect(mp4.samples.get(AUDIO)).toHaveLength(countOf(messages, 8));
    expect(c.segments.every((s) => s.independent)).toBe(true);
  });

  it('video only: decides after the bounded wait without metadata, at once with onMetaData', () => {
    const messages = feed({ seconds: 3, audio: false });
    const waited = collect();
    let initAt: number | undefined;
    messages.forEach((m) => {
      waited.packager.push(m.type, m.timestamp, m.payload);
      if (initAt === undefined && waited.inits.length) initAt = m.mediaMs;
    });
    expect(initAt).toBe(1000);
    waited.packager.end();
    expect(parseMp4(waited.file()).samples.get(VIDEO)).toHaveLength(90);

    const meta = collect();
    meta.packager.push(18, 0, onMetaData({ videocodecid: 7, width: 1280 }));
    meta.packager.push(messages[0].type, 0, messages[0].payload);
    meta.packager.push(messages[1].type, 0, messages[1].payload);
    expect(meta.inits).toHaveLength(1);
    expect(meta.inits[0].codecs).toEqual(['avc1.64001f']);
  });

  it('waits for both tracks when onMetaData names both, and warns when one never comes', () => {
    const c = collect();
    c.packager.push(18, 0, onMetaData({ videocodecid: 7, audiocodecid: 10 }));
    runFeed(c, feed({ seconds: 2, audio: false }));
    expect(c.inits[0].codecs).toEqual(['avc1.64001f']);
    expect(c.warnings.map((w) => w.code)).toContain('missing-track');
  });
});

describe('sequence headers mid-stream', () => {
  it('a changed AVC header gives a new init under a derived session id and a discontinuity', () => {
    const first = feed({ seconds: 2 });
    const second = feed({ seconds: 2, video: { fps: 30, gopFrames: 60, bitrate: 3e6, width: 640, height: 360 }, startTimestamp: 2000 });
    const messages = [...first, ...second.map((m) => ({ ...m, mediaMs: m.mediaMs + 2000 }))];
    const c = collect();
    runFeed(c, messages);
    expect(c.errors).toEqual([]);
    expect(c.inits).toHaveLength(2);
    const [a, b] = c.inits;
    expect(b.session).toMatch(/^[a-z0-9]{10}$/);
    expect(b.session).not.toBe(a.session);
    expect(b.name).toBe(`${b.session}_init.mp4`);
    const later = c.segments.filter((s) => s.initUri === b.name);
    expect(later[0].discontinuity).toBe(true);
    expect(later[0].name).toBe(`${b.session}_${later[0].msn}.m4s`);
    expect(later[0].discontinuitySequence).toBe(c.segments[0].discontinuitySequence + 1);
    const text = c.playlists.at(-1)!;
    expect(text).toMatch(/#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="[a-z0-9]{10}_init.mp4"\n/);
    const mp4 = checkTimeline(Buffer.concat([b.bytes, ...later.flatMap((s) => s.chunks)]));
    expect(mp4.info.tracks[0].video).toEqual({ width: 640, height: 360 });
    // The msns keep growing across the init change.
    expect(c.segments.map((s) => s.msn)).toEqual(c.segments.map((_, i) => 100 + i));
  });

  it('an identical repeated header changes nothing', () => {
    const messages = feed({ seconds: 3 });
    const repeat = messages.slice(0, 2).map((m) => ({ ...m, timestamp: 1500, mediaMs: 1500 }));
    const i = messages.findIndex((m) => m.mediaMs >= 1500);
    const c = collect();
    runFeed(c, [...messages.slice(0, i), ...repeat, ...messages.slice(i)]);
    expect(c.inits).toHaveLength(1);
    expect(c.segments.some((s) => s.discontinuity)).toBe(false);
  });
});

describe('timestamps', () => {
  it.each([
    ['forward one hour', 3_600_000],
    ['backward ten seconds', -10_000],
  ])('a jump %s closes the segment and starts a discontinuity, with no bad durations', (_name, delta) => {
    const a = feed({ seconds: 2 });
    const b = feed({ seconds: 2, startTimestamp: 2000 + delta }).slice(2);
    const c = collect();
    runFeed(c, [...a, ...b.map((m) => ({ ...m, mediaMs: m.mediaMs + 2000 }))]);
    expect(c.errors).toEqual([]);
    expect(c.segments.filter((s) => s.discontinuity)).toHaveLength(1);
    expect(c.warnings.map((w) => w.code)).toContain('timestamp-jump');
    const mp4 = parseMp4(c.file());
    for (const t of mp4.info.tracks) {
      const s = mp4.samples.get(t.id)!;
      for (const x of s) expect(x.duration).toBeGreaterThan(0);
      for (const x of s) expect(x.duration).toBeLessThan(t.timescale);
      for (let i = 1; i < s.length; i++) expect(s[i].dts).toBeGreaterThan(s[i - 1].dts);
    }
    // Decode time stays near the wall clock after the jump: PDT of the first segment after it ≈ its arrival.
    const after = c.segments.find((s) => s.discontinuity)!;
    expect(Math.abs(after.programDateTimeMs - (T0 + 2000))).toBeLessThan(600);
  });

  it.each([
    ['the 32-bit wrap', 0xffffffff - 1500],
    ['the 24-bit extended-timestamp threshold', 0xffffff - 1500],
  ])('crosses %s without a discontinuity', (_name, start) => {
    const messages = feed({ seconds: 3, startTimestamp: start });
    expect(messages.some((m) => m.timestamp < 1000 || m.timestamp > 0xffffff)).toBe(true);
    const c = collect();
    runFeed(c, messages);
    expect(c.errors).toEqual([]);
    expect(c.segments.some((s) => s.discontinuity)).toBe(false);
    const mp4 = checkTimeline(c.file());
    expect(mp4.samples.get(VIDEO)).toHaveLength(90);
    expect(mp4.samples.get(VIDEO)!.at(-1)!.dts - mp4.samples.get(VIDEO)![0].dts).toBe(Math.round((89 * 1000) / 30) * 90);
  });

  it('clamps a small backward step of one track instead of writing a negative duration', () => {
    const messages = feed({ seconds: 2, audio: false });
    const glitched = messages.map((m, i) => (i === 30 ? { ...m, timestamp: m.timestamp - 50 } : m));
    const c = collect();
    runFeed(c, glitched);
    checkTimeline(c.file());
  });
});

describe('budget', () => {
  it('keeps every object under the default budget at 10 Mbit/s with a 10 s keyframe interval', () => {
    const c = collect();
    runFeed(c, feed({ seconds: 12, video: { fps: 30, gopFrames: 300, bitrate: 10_000_000 } }));
    for (const s of c.segments) expect(s.byteLength).toBeLessThanOrEqual(4_000_000);
    expect(Math.max(...c.segments.map((s) => s.byteLength))).toBeGreaterThan(1_000_000);
  });

  it('cuts earlier when a fragment or segment would exceed a small budget', () => {
    const c = collect({ maxObjectBytes: 200_000 });
    runFeed(c, feed({ seconds: 3, video: { fps: 30, gopFrames: 60, bitrate: 10_000_000 } }));
    expect(c.errors).toEqual([]);
    for (const s of c.segments) expect(s.byteLength).toBeLessThanOrEqual(200_000);
    expect(c.segments.length).toBeGreaterThan(6);
    checkTimeline(c.file());
  });

  it('refuses a single frame larger than the budget', () => {
    const c = collect({ maxObjectBytes: 50_000 });
    c.packager.push(9, 0, avcSequenceTag(avcRecord(buildSps({ width: 640, height: 360 }))));
    const err = c.packager.push(9, 0, avcFrameTag(true, 0, 60_000));
    expect(err?.code).toBe('too-large');
    expect(c.packager.push(9, 33, avcFrameTag(false, 0, 100))).toBe(err);
  });
});

describe('NALU lengths', () => {
  it('widens 2-byte NALU lengths to 4 bytes in mdat', () => {
    const c = collect();
    c.packager.push(18, 0, onMetaData({ videocodecid: 7 }));
    c.packager.push(9, 0, avcSequenceTag(avcRecord(buildSps({ width: 640, height: 360 }), 2)));
    for (let i = 0; i < 30; i++) c.packager.push(9, Math.round((i * 1000) / 30), avcFrameTag(i === 0, 0, 500, 2));
    c.packager.end();
    const mp4 = parseMp4(c.file());
    expect(mp4.samples.get(VIDEO)!.map((s) => s.size)).toEqual(Array(30).fill(502));
    const seg = c.segments[0].chunks[0];
    const mdat = seg.indexOf('mdat', 0, 'latin1');
    expect(seg.readUInt32BE(mdat + 4)).toBe(498);
  });
});

describe('playlist', () => {
  it('slides a window of playlistSize, numbers from the bases and ends with ENDLIST', () => {
    const c = collect({ playlistSize: 3 });
    runFeed(c, feed({ seconds: 5 }));
    const text = c.playlists.at(-1)!;
    expect(text.split('\n').slice(0, 5)).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:6',
      '#EXT-X-TARGETDURATION:1',
      '#EXT-X-MEDIA-SEQUENCE:102',
      '#EXT-X-DISCONTINUITY-SEQUENCE:8',
    ]);
    expect(text.match(/#EXTINF:\d+\.\d{3},/g)).toHaveLength(3);
    expect(text.match(/#EXT-X-PROGRAM-DATE-TIME:/g)).toHaveLength(3);
    expect(text.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(c.packager.playlist()).toBe(text);
  });

  it('marks the first segment of a continuation with EXT-X-DISCONTINUITY', () => {
    const c = collect({ continuation: true });
    runFeed(c, feed({ seconds: 2 }));
    expect(c.playlists.at(-1)).toMatch(/#EXT-X-DISCONTINUITY-SEQUENCE:7\n(#EXT-X-INDEPENDENT-SEGMENTS\n)?#EXT-X-DISCONTINUITY\n#EXT-X-MAP/);
  });
});

describe('health', () => {
  it('measures the stream and warns about the OBS default keyframe interval and a bitrate over the cap', () => {
    const c = collect({ maxBitrateBps: 2_000_000 });
    runFeed(c, feed({ seconds: 18, video: { fps: 30, gopFrames: 250, bitrate: 3_000_000 } }));
    const h = c.packager.health();
    expect(h.video).toMatchObject({ codec: 'avc1.64001f', width: 1280, height: 720, frameRateHint: 30 });
    expect(h.video!.frameRate).toBeCloseTo(30, 0);
    expect(h.video!.keyframeIntervalSeconds).toBeCloseTo(8.33, 1);
    expect(h.video!.bitrateBps! / 1e6).toBeGreaterThan(2.5);
    expect(h.audio).toMatchObject({ codec: 'mp4a.40.2', sampleRate: 48000, channels: 2 });
    const keyframe = c.warnings.find((w) => w.code === 'keyframe-interval');
    expect(keyframe?.message).toBe('keyframe interval 8.3 s: set 1 or 2 s in OBS → Settings → Output → Keyframe Interval');
    expect(c.warnings.find((w) => w.code === 'bitrate-over-cap')?.message).toMatch(/above the cap of 2\.0 Mbit\/s/);
    expect(h.warnings.map((w) => w.code).sort()).toEqual(['bitrate-over-cap', 'keyframe-interval']);
  });

  it('reports timestamp jitter between arrival and media time', () => {
    const c = collect();
    runFeed(c, feed({ seconds: 5 }), { jitter: (i) => (i % 7) * 5 });
    expect(c.packager.health().jitterMs).toBeGreaterThanOrEqual(25);
    expect(c.packager.health().jitterMs).toBeLessThanOrEqual(30);
  });
});

describe('program date time', () => {
  it('stays within 50 ms of the arrival time of each segment in a simulated real-time feed', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const messages = feed({ seconds: 30, audioSkewMs: 40 });
    const jitter = messages.map(() => rand() * 45);
    const arrival = new Map<number, number>();
    messages.forEach((m, i) => {
      if (m.type === 9 && !arrival.has(m.mediaMs)) arrival.set(m.mediaMs, T0 + m.mediaMs + jitter[i]);
    });
    const c = collect();
    runFeed(c, messages, { jitter: (i) => jitter[i] });
    expect(c.segments.length).toBeGreaterThanOrEqual(29);
    let worst = 0;
    for (const s of c.segments as SegmentOutput[]) {
      const mediaMs = Math.round(s.programDateTimeMs - T0 - jitter[0]);
      const at = arrival.get(mediaMs);
      expect(at, `segment ${s.msn} at media ${mediaMs}`).toBeDefined();
      worst = Math.max(worst, Math.abs(s.programDateTimeMs - at!));
    }
    expect(worst).toBeLessThanOrEqual(50);
  });
});

/** An AMF0 `onMetaData` with an ECMA array of numbers. */
function onMetaData(values: Record<string, number>): Buffer {
  const parts: Buffer[] = [amfString('onMetaData'), Buffer.from([8, 0, 0, 0, Object.keys(values).length])];
  for (const [k, v] of Object.entries(values)) {
    const key = Buffer.alloc(2 + k.length);
    key.writeUInt16BE(k.length);
    key.write(k, 2, 'latin1');
    const num = Buffer.alloc(9);
    num.writeDoubleBE(v, 1);
    parts.push(key, num);
  }
  parts.push(Buffer.from([0, 0, 9]));
  return Buffer.concat(parts);
}

function amfString(s: string): Buffer {
  const b = Buffer.alloc(3 + s.length);
  b[0] = 2;
  b.writeUInt16BE(s.length, 1);
  b.write(s, 3, 'latin1');
  return b;
}
