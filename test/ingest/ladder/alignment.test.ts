/**
 * A real ffmpeg-made FLV through the ladder's ffmpeg, and through a `Packager` for the source and one per rung:
 * the rungs' segments line up with the source's (count, start times, durations within one frame), each starts
 * with a keyframe, decodes at the rung's size; every rung frame keeps its source frame's timestamps exactly.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNGS } from '../../../core/ladder';
import { ladderOutputs, LadderTranscoder } from '../../../ingest/ladder/index.js';
import type { FlvTag } from '../../../ingest/packager/index.js';
import { withDeadline } from '../../support/wait';
import { cto, isKey, isVideoFrame, type Message, makeSource, packageAll, probe, tempDir } from './support';

const dir = tempDir();
const rungs = RUNGS.filter((r) => r.name === '240p' || r.name === '160p');

interface Variant {
  readonly label: string;
  readonly rate: string;
  readonly bframes: number;
  tags: FlvTag[];
  out: Map<string, Message[]>;
}

const variants: Variant[] = [
  // 29.97 fps: ms timestamps step 33/34 ms, which a 1/30 encoder time base would re-time; B-frames as OBS sends.
  { label: '29.97 fps, B-frames', rate: '30000/1001', bframes: 2, tags: [], out: new Map() },
  { label: '30 fps, no B-frames', rate: '30', bframes: 0, tags: [], out: new Map() },
];

async function transcode(tags: readonly FlvTag[]): Promise<Map<string, Message[]>> {
  const out = new Map<string, Message[]>(rungs.map((r) => [r.name, []]));
  const t = new LadderTranscoder({
    outputs: ladderOutputs(rungs, { width: 480, height: 270 }),
    segmentSeconds: 1,
    onMessage: (rung, type, timestamp, payload) => out.get(rung)!.push({ type, timestamp, payload: Buffer.from(payload) }),
  });
  for (const tag of tags) t.push(tag.type, tag.timestamp, tag.payload);
  t.end();
  const exit = await withDeadline(t.exited, 'the ladder ffmpeg to finish', 30_000);
  expect(exit.stderr).toBe('');
  expect(exit.code).toBe(0);
  return out;
}

beforeAll(async () => {
  await Promise.all(
    variants.map(async (v, i) => {
      v.tags = await makeSource(join(dir, `src${i}.flv`), { rate: v.rate, bframes: v.bframes, seconds: 4, gopSeconds: 2 });
      v.out = await transcode(v.tags);
    }),
  );
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(variants)('ladder of $label', (v) => {
  it('every rung frame has its source frame timestamps (DTS and PTS), to the millisecond', () => {
    const src = v.tags.filter(isVideoFrame);
    expect(src.some((t) => cto(t) !== 0)).toBe(v.bframes > 0);
    for (const r of rungs) {
      const frames = v.out.get(r.name)!.filter(isVideoFrame);
      expect(frames.length).toBe(src.length);
      expect(frames.map((f) => f.timestamp)).toEqual(src.map((t) => t.timestamp));
      expect(frames.map((f) => f.timestamp + cto(f)).sort((a, b) => a - b)).toEqual(src.map((t) => t.timestamp + cto(t)).sort((a, b) => a - b));
      // Audio is the source's, copied.
      const srcAudio = v.tags.filter((t) => t.type === 8 && t.payload[1] === 1);
      const audio = v.out.get(r.name)!.filter((t) => t.type === 8 && t.payload[1] === 1);
      expect(audio.map((a) => a.timestamp)).toEqual(srcAudio.map((a) => a.timestamp));
      expect(Buffer.concat(audio.map((a) => a.payload)).equals(Buffer.concat(srcAudio.map((a) => a.payload)))).toBe(true);
    }
  });

  it('rung segments line up with the source segments, start with keyframes and decode at the rung size', async () => {
    const source = packageAll(v.tags);
    expect(source.errors).toEqual([]);
    const frameSec = 1 / 29.97;
    expect(source.segments.length).toBeGreaterThanOrEqual(4);
    for (const r of rungs) {
      const rung = packageAll(v.out.get(r.name)!);
      expect(rung.errors).toEqual([]);
      expect(rung.segments.length).toBe(source.segments.length);
      expect(rung.segments.map((s) => s.msn)).toEqual(source.segments.map((s) => s.msn));
      expect(rung.segments.map((s) => s.programDateTimeMs)).toEqual(source.segments.map((s) => s.programDateTimeMs));
      rung.segments.forEach((s, i) => {
        expect(Math.abs(s.duration - source.segments[i].duration)).toBeLessThanOrEqual(frameSec);
        expect(s.parts.map((p) => p.duration.toFixed(3))).toEqual(source.segments[i].parts.map((p) => p.duration.toFixed(3)));
      });
      expect(rung.segments.map((s) => s.independent)).toEqual(rung.segments.map(() => true));
      const size = ladderOutputs([r], { width: 480, height: 270 })[0];
      // Each segment alone with the init decodes at the rung's size (what a player switching there gets).
      for (const [i, s] of rung.segments.entries()) {
        const file = join(dir, `${v.rate.replace('/', '_')}-${r.name}-${i}.mp4`);
        writeFileSync(file, Buffer.concat([rung.init(), ...s.chunks]));
        const p = await probe(file);
        expect({ width: p.width, height: p.height }).toEqual({ width: size.width, height: size.height });
        expect(p.frames).toBe(s.parts.length > 0 ? countFrames(v.out.get(r.name)!, s, rung.segments, i) : 0);
      }
    }
  });

  it('the rungs have keyframes exactly where the source has segment boundaries', () => {
    const source = packageAll(v.tags);
    const boundaries = source.segments.map((s) => s.programDateTimeMs);
    for (const r of rungs) {
      const keys = v.out
        .get(r.name)!
        .filter((t) => isVideoFrame(t) && isKey(t))
        .map((t) => t.timestamp - v.tags.find(isVideoFrame)!.timestamp);
      expect(keys.map((k) => k + boundaries[0])).toEqual(boundaries);
    }
  });
});

describe('a ladder started mid-publish (a restart) on the publish grid', () => {
  it('forces keyframes on the given grid and starts each rung at the first of them', async () => {
    const v = variants[0]; // 29.97 fps with B-frames
    const origin = 500; // the publish's grid: 500, 1500, 2500 … ms
    const from = v.tags.findIndex((t) => isVideoFrame(t) && t.timestamp >= 400); // mid-GOP: ffmpeg starts at the next keyframe
    const headers = v.tags.filter((t) => t.type === 18 || t.payload[1] === 0);
    const out = new Map<string, Message[]>(rungs.map((r) => [r.name, []]));
    const t = new LadderTranscoder({
      outputs: ladderOutputs(rungs, { width: 480, height: 270 }),
      segmentSeconds: 1,
      gridOriginMs: origin,
      onMessage: (rung, type, timestamp, payload) => out.get(rung)!.push({ type, timestamp, payload: Buffer.from(payload) }),
    });
    for (const tag of [...headers, ...v.tags.slice(from)]) t.push(tag.type, tag.timestamp, tag.payload);
    t.end();
    expect((await withDeadline(t.exited, 'ffmpeg to finish', 30_000)).code).toBe(0);
    // The source packager's boundaries on that grid: the first DTS at or past each line (2 ms tolerance).
    const dts = v.tags.filter(isVideoFrame).map((f) => f.timestamp);
    const firstKey = v.tags.find((f) => isVideoFrame(f) && isKey(f) && f.timestamp >= 400)!.timestamp;
    const boundaries = dts.filter(
      (d, i) => i > 0 && d > firstKey && Math.floor((d - origin + 2) / 1000) > Math.floor((dts[i - 1] - origin + 2) / 1000),
    );
    expect(firstKey % 1000).not.toBe(origin); // the first keyframe fed is off the grid
    for (const r of rungs) {
      const frames = out.get(r.name)!.filter(isVideoFrame);
      const keys = frames.filter(isKey).map((f) => f.timestamp);
      expect(isKey(frames[0])).toBe(true);
      expect(keys).toEqual(boundaries); // the off-grid first IDR was not passed on; every grid line has its keyframe
      expect(frames.map((f) => f.timestamp)).toEqual(dts.filter((d) => d >= boundaries[0]));
      // Before the first frame: only configuration (metadata, sequence headers), no audio.
      const before = out.get(r.name)!.slice(0, out.get(r.name)!.indexOf(frames[0]));
      expect(before.every((m) => m.type === 18 || m.payload[1] === 0)).toBe(true);
    }
    expect(t.stats().rungs.every((r) => r.skipped > 0)).toBe(true);
  });
});

describe('a timestamp jump in the source', () => {
  it('restarts the keyframe grid at the jump, as the packager restarts its segment grid', async () => {
    const v = variants[1]; // 30 fps, no B-frames
    // 5 s forward from the first video frame at or past 1.5 s (mid-GOP: the source has no keyframe there).
    const cut = v.tags.find((t) => isVideoFrame(t) && t.timestamp >= 1500)!.timestamp;
    const tags = v.tags.map((t) => (t.type !== 18 && t.payload[1] !== 0 && t.timestamp >= cut ? { ...t, timestamp: t.timestamp + 5000 } : t));
    const out = new Map<string, Message[]>(rungs.map((r) => [r.name, []]));
    const t = new LadderTranscoder({
      outputs: ladderOutputs(rungs, { width: 480, height: 270 }),
      segmentSeconds: 1,
      onMessage: (rung, type, timestamp, payload) => out.get(rung)!.push({ type, timestamp, payload: Buffer.from(payload) }),
    });
    for (const tag of tags) t.push(tag.type, tag.timestamp, tag.payload);
    t.end();
    expect((await withDeadline(t.exited, 'ffmpeg to finish', 30_000)).code).toBe(0);
    const source = packageAll(tags);
    expect(source.errors).toEqual([]);
    expect(source.segments.some((s) => s.discontinuity)).toBe(true);
    for (const r of rungs) {
      const rung = packageAll(out.get(r.name)!);
      expect(rung.errors).toEqual([]);
      expect(rung.segments.map((s) => s.discontinuity)).toEqual(source.segments.map((s) => s.discontinuity));
      for (const [i, s] of rung.segments.entries()) expect(Math.abs(s.duration - source.segments[i].duration)).toBeLessThanOrEqual(1 / 30);
      expect(rung.segments.every((s) => s.independent)).toBe(true);
      // The source's segment after the jump starts mid-GOP; the rung's starts with a forced keyframe.
      expect(source.segments.find((s) => s.discontinuity)!.independent).toBe(false);
      const keys = out
        .get(r.name)!
        .filter((m) => isVideoFrame(m) && isKey(m))
        .map((m) => m.timestamp);
      expect(keys).toContain(cut + 5000);
      expect(keys.filter((k) => k > cut).map((k) => k - keys.find((x) => x > cut)!)).toEqual(
        [0, 1000, 2000].slice(0, keys.filter((k) => k > cut).length),
      );
    }
  });
});

/** Video frames of segment i: those whose DTS fall within its span. */
function countFrames(
  messages: readonly Message[],
  s: { programDateTimeMs: number },
  all: readonly { programDateTimeMs: number }[],
  i: number,
): number {
  const first = messages.find(isVideoFrame)!.timestamp;
  const start = s.programDateTimeMs - all[0].programDateTimeMs + first;
  const end = i + 1 < all.length ? all[i + 1].programDateTimeMs - all[0].programDateTimeMs + first : Infinity;
  return messages.filter((m) => isVideoFrame(m) && m.timestamp >= start && m.timestamp < end).length;
}
