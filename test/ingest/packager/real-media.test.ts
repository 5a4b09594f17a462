/**
 * Real encoder output: FLV files made by ffmpeg (x264 with B-frames, AAC at 48 and 44.1 kHz, audio-only,
 * video-only), fed tag by tag; the concatenated init + segments must decode with ffmpeg without a single error.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAvcConfig } from '../../../ingest/packager/index.js';
import { readFlvTags } from './support/flv-file.js';
import { parseMp4 } from './support/mp4.js';
import { collect, runFeed } from './support/run.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kf-packager-'));

const VIDEO = ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30'];
const X264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-pix_fmt', 'yuv420p'];
X264.push('-bf', '2', '-g', '60', '-x264-params', 'bframes=2:b-adapt=0');
const variants: Record<string, string[]> = {
  av48: [...VIDEO, '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '3', ...X264, '-c:a', 'aac', '-ar', '48000'],
  av44: [...VIDEO, '-f', 'lavfi', '-i', 'sine=sample_rate=44100', '-t', '3', ...X264, '-c:a', 'aac', '-ar', '44100'],
  audio: ['-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '3', '-c:a', 'aac', '-ac', '2'],
  video: [...VIDEO, '-t', '3', ...X264],
  big: ['-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '2', ...X264, '-c:a', 'aac'],
};

beforeAll(async () => {
  const make = ([name, args]: [string, string[]]) => run('ffmpeg', ['-v', 'error', '-y', ...args, '-f', 'flv', join(dir, `${name}.flv`)]);
  await Promise.all(Object.entries(variants).map(make));
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function decode(file: string): Promise<{ stderr: string; frames: Record<string, number> }> {
  const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-']);
  const probe = ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_type,nb_read_frames', '-of', 'csv=p=0', file];
  const { stdout } = await run('ffprobe', probe);
  const frames: Record<string, number> = {};
  for (const line of stdout.trim().split('\n')) {
    const [type, n] = line.split(',');
    frames[type] = Number(n);
  }
  return { stderr, frames };
}

describe('real ffmpeg FLV through the packager', () => {
  it.each([
    ['av48', 48000],
    ['av44', 44100],
    ['audio', 48000],
    ['video', undefined],
  ])('%s: decodes every frame with no errors, frame counts match the FLV', async (name, rate) => {
    const tags = readFlvTags(readFileSync(join(dir, `${name}.flv`)));
    const videoFrames = tags.filter((t) => t.type === 9 && t.payload[1] === 1).length;
    const audioFrames = tags.filter((t) => t.type === 8 && t.payload[1] === 1).length;
    const c = collect();
    runFeed(c, tags);
    expect(c.errors).toEqual([]);
    expect(c.warnings).toEqual([]);
    const out = join(dir, `${name}.mp4`);
    writeFileSync(out, c.file());
    const { stderr, frames } = await decode(out);
    expect(stderr).toBe('');
    if (videoFrames) expect(frames.video).toBe(videoFrames);
    if (audioFrames) expect(frames.audio).toBe(audioFrames);
    const mp4 = parseMp4(c.file());
    if (rate) expect(mp4.info.tracks.find((t) => t.audio)?.audio?.sample_rate).toBe(rate);
    if (videoFrames) {
      const v = mp4.samples.get(1)!;
      expect(v.some((s) => s.cts > s.dts)).toBe(true); // B-frames: composition offsets survived
      expect(c.inits[0].codecs[0]).toBe('avc1.64000d');
      expect(c.segments.map((s) => s.independent)).toEqual([true, false, true]);
    }
    // Each segment decodes from its own init too (what a player joining there gets).
    const lone = join(dir, `${name}-seg.mp4`);
    writeFileSync(lone, Buffer.concat([c.inits[0].bytes, ...c.segments[2].chunks]));
    expect((await decode(lone)).stderr).toBe('');
  });

  it('reads the real x264 SPS: size, profile and level', () => {
    const tags = readFlvTags(readFileSync(join(dir, 'av48.flv')));
    const header = tags.find((t) => t.type === 9 && t.payload[1] === 0)!;
    expect(parseAvcConfig(header.payload.subarray(5))).toMatchObject({ width: 320, height: 240, profileIdc: 100, levelIdc: 13, frameRate: 30 });
  });

  it('a resolution change mid-stream: a second init, a discontinuity, and both parts decode', async () => {
    const first = readFlvTags(readFileSync(join(dir, 'av48.flv'))).filter((t) => t.type !== 18);
    const second = readFlvTags(readFileSync(join(dir, 'big.flv')))
      .filter((t) => t.type !== 18)
      .map((t) => ({ ...t, timestamp: t.timestamp + 3000 }));
    const c = collect();
    runFeed(c, [...first, ...second]);
    expect(c.errors).toEqual([]);
    expect(c.inits).toHaveLength(2);
    expect(c.segments.filter((s) => s.discontinuity)).toHaveLength(1);
    for (const [i, init] of c.inits.entries()) {
      const file = join(dir, `switch-${i}.mp4`);
      writeFileSync(file, Buffer.concat([init.bytes, ...c.segments.filter((s) => s.initUri === init.name).flatMap((s) => s.chunks)]));
      const { stderr, frames } = await decode(file);
      expect(stderr).toBe('');
      expect(frames.video).toBe(i === 0 ? 90 : 60);
    }
  });
});
