/**
 * Ladder tests' helpers: ffmpeg-made source FLVs (small, so the folder stays fast on 2 cores), their tags, a
 * packager per variant, a real-time feeder, and ffprobe.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type FlvTag, FlvTagReader, Packager, type SegmentOutput } from '../../../ingest/packager/index.js';

export const run = promisify(execFile);

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kf-ladder-'));
}

export interface SourceOptions {
  readonly size?: string;
  readonly rate?: string;
  readonly seconds?: number;
  readonly gopSeconds?: number;
  /** B-frames in the source (OBS's x264 default has 2). @default 2 */
  readonly bframes?: number;
  readonly audio?: boolean;
}

/** An x264/AAC FLV made by ffmpeg from a test pattern; one encoder thread. */
export async function makeSource(file: string, o: SourceOptions = {}): Promise<FlvTag[]> {
  const rate = o.rate ?? '30';
  const fps = rate.includes('/') ? Number(rate.split('/')[0]) / Number(rate.split('/')[1]) : Number(rate);
  const gop = String(Math.round((o.gopSeconds ?? 2) * fps));
  const bf = o.bframes ?? 2;
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${o.size ?? '480x270'}:rate=${rate}`];
  if (o.audio !== false) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
  args.push('-t', String(o.seconds ?? 4), '-c:v', 'libx264', '-preset', 'ultrafast', '-threads', '1', '-pix_fmt', 'yuv420p');
  args.push('-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-bf', String(bf));
  if (bf > 0) args.push('-x264-params', `bframes=${bf}:b-adapt=0`);
  if (o.audio !== false) args.push('-c:a', 'aac', '-b:a', '64k');
  args.push('-f', 'flv', file);
  await run('ffmpeg', args);
  return readTags(file);
}

export function readTags(file: string): FlvTag[] {
  return new FlvTagReader().push(readFileSync(file));
}

export const isVideoFrame = (t: { type: number; payload: Buffer }) => t.type === 9 && t.payload[1] === 1;
export const isKey = (t: { payload: Buffer }) => t.payload[0] >> 4 === 1;
export const cto = (t: { payload: Buffer }) => {
  const v = (t.payload[2] << 16) | (t.payload[3] << 8) | t.payload[4];
  return v & 0x800000 ? v - 0x1000000 : v;
};

export interface Message {
  readonly type: number;
  readonly timestamp: number;
  readonly payload: Buffer;
}

export interface Packaged {
  readonly segments: SegmentOutput[];
  readonly init: () => Buffer;
  readonly errors: string[];
  readonly packager: Packager;
}

export const ANCHOR_MS = 1_780_000_000_000;

/** A packager with the ingest's cut settings, the same anchor for every variant, and no clock gating. */
export function packager(): Packaged {
  const segments: SegmentOutput[] = [];
  const errors: string[] = [];
  let init: Buffer | undefined;
  let t = ANCHOR_MS;
  const p = new Packager({
    session: 'abcdefghij',
    mediaSequenceBase: 1000,
    discontinuitySequenceBase: 1000,
    anchorMs: ANCHOR_MS,
    now: () => (t += 1),
    segmentSeconds: 1,
    fragmentSeconds: 0.334,
    lowLatency: true,
    onInit: (i) => (init = i.bytes),
    onSegment: (s) => segments.push(s),
  });
  return {
    segments,
    errors,
    packager: p,
    init: () => init!,
  };
}

export function packageAll(messages: readonly Message[]): Packaged {
  const p = packager();
  for (const m of messages) {
    const err = p.packager.push(m.type, m.timestamp, m.payload);
    if (err) p.errors.push(err.message);
  }
  const err = p.packager.end();
  if (err) p.errors.push(err.message);
  return p;
}

/** Width and height of the video in a file, and how many frames decode. */
export async function probe(file: string): Promise<{ width: number; height: number; frames: number }> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-count_frames',
    '-show_entries',
    'stream=width,height,nb_read_frames',
    '-of',
    'csv=p=0',
    file,
  ]);
  const [width, height, frames] = stdout.trim().split(',').map(Number);
  return { width, height, frames };
}

/**
 * Feeds tags at the pace of their timestamps (a live publisher); resolves at the end or when `stop()` is called.
 * A step back in the timestamps (an encoder restart) is paced as no step. Pacing is the source's, not a wait for
 * state.
 */
export function feedRealTime(
  tags: readonly FlvTag[],
  push: (t: FlvTag) => void,
  opts: { speed?: number } = {},
): { done: Promise<void>; stop(): void } {
  const speed = opts.speed ?? 1;
  // When each tag is due, ms after the start: timestamp steps, clamped to [0, 1 s].
  const due: number[] = [];
  let at = 0;
  let prev: number | undefined;
  for (const t of tags) {
    if (t.type !== 18) {
      if (prev !== undefined) at += Math.min(1000, Math.max(0, t.timestamp - prev));
      prev = t.timestamp;
    }
    due.push(at);
  }
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const t0 = Date.now();
  let i = 0;
  const done = new Promise<void>((resolve) => {
    const step = () => {
      if (stopped) return resolve();
      const elapsed = (Date.now() - t0) * speed;
      while (i < tags.length && due[i] <= elapsed) push(tags[i++]);
      if (i >= tags.length) return resolve();
      timer = setTimeout(step, Math.max(1, (due[i] - elapsed) / speed));
    };
    step();
  });
  return {
    done,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** Repeats a clip's tags for `times` loops, timestamps continuing (headers only once). */
export function loopTags(tags: readonly FlvTag[], times: number): FlvTag[] {
  const media = tags.filter((t) => !(t.type === 18 || (t.type !== 18 && t.payload[1] === 0)));
  const headers = tags.filter((t) => !media.includes(t));
  const span = Math.max(...media.map((t) => t.timestamp)) + 34;
  const out: FlvTag[] = [...headers];
  for (let k = 0; k < times; k++) for (const t of media) out.push({ ...t, timestamp: t.timestamp + k * span });
  return out;
}

/** A shell script at `dir/name` (for ffmpeg wrappers). */
export function script(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}
