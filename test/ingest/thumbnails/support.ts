/**
 * Thumbnail tests: real FLV made by ffmpeg, split into tags with the ingest's own reader, pushed into a
 * Thumbnailer; JPEGs checked with ffprobe; stand-in "ffmpeg" scripts for hangs and for counting processes.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type FlvTag, FlvTagReader } from '../../../ingest/packager/index.js';
import type { Thumbnail, ThumbnailLog, ThumbnailPool, Thumbnailer } from '../../../ingest/thumbnails/index';
import { EventLog, withDeadline } from '../../support/wait';

const run = promisify(execFile);
export const FFMPEG = 'ffmpeg';

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kf-thumbs-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An FLV of `seconds` of testsrc2 (moving, with a running clock) and a tone: x264, 30 fps, a keyframe every second. */
export async function makeFlv(path: string, opts: { size: string; seconds: number; audio?: boolean; video?: boolean }): Promise<FlvTag[]> {
  const video = opts.video === false ? [] : ['-f', 'lavfi', '-i', `testsrc2=size=${opts.size}:rate=30`];
  const audio = opts.audio === false ? [] : ['-f', 'lavfi', '-i', 'sine=sample_rate=48000'];
  const x264 =
    opts.video === false
      ? []
      : ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0'];
  const aac = opts.audio === false ? [] : ['-c:a', 'aac'];
  await run(FFMPEG, ['-v', 'error', '-y', ...video, ...audio, '-t', String(opts.seconds), ...x264, ...aac, '-f', 'flv', path]);
  return new FlvTagReader().push(readFileSync(path));
}

export const isVideoKeyframe = (t: FlvTag) => t.type === 9 && t.payload[0] >> 4 === 1 && t.payload[1] === 1;

/** Width, height and codec of a JPEG, as ffprobe reads it. */
export async function probeJpeg(jpeg: Buffer, dir: string): Promise<{ codec_name: string; width: number; height: number }> {
  const file = join(dir, `probe-${process.hrtime.bigint()}.jpg`);
  writeFileSync(file, jpeg);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file]);
  rmSync(file);
  return (JSON.parse(stdout) as { streams: { codec_name: string; width: number; height: number }[] }).streams[0];
}

/** A JPEG decoded by ffmpeg to 64×36 grey pixels (what "different content" is measured on). */
export async function greyPixels(jpeg: Buffer, dir: string): Promise<Buffer> {
  const file = join(dir, `grey-${process.hrtime.bigint()}.jpg`);
  writeFileSync(file, jpeg);
  const { stdout } = await run(FFMPEG, ['-v', 'error', '-i', file, '-vf', 'scale=64:36', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], {
    encoding: 'buffer',
  });
  rmSync(file);
  return stdout;
}

export function meanAbsDiff(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

export interface LogEntry {
  readonly level: 'info' | 'warn';
  readonly message: string;
  readonly extra?: Record<string, unknown>;
}

/** A ThumbnailLog that records, and the thumbnails as they come. */
export function recorder(): { log: ThumbnailLog; logs: EventLog<LogEntry>; thumbs: EventLog<Thumbnail>; warnings(cause?: string): LogEntry[] } {
  const logs = new EventLog<LogEntry>();
  const thumbs = new EventLog<Thumbnail>();
  return {
    logs,
    thumbs,
    log: {
      info: (message, extra) => logs.push({ level: 'info', message, extra }),
      warn: (message, extra) => logs.push({ level: 'warn', message, extra }),
    },
    warnings: (cause) => logs.filter((e) => e.level === 'warn' && (cause === undefined || e.extra?.cause === cause)),
  };
}

/**
 * Pushes the tags in order as the RTMP layer would, and after each video keyframe waits until the pool has
 * nothing queued or running: media paced by the decodes, so what a test sees depends on the interval rule only.
 */
export async function feedPaced(t: Thumbnailer, pool: ThumbnailPool, tags: readonly FlvTag[]): Promise<void> {
  for (const tag of tags) {
    t.push(tag.type, tag.timestamp, tag.payload);
    if (isVideoKeyframe(tag)) await withDeadline(pool.idle(), 'the thumbnail pool to be idle', 20_000);
  }
}

/** The keyframe timestamps the interval rule picks: the first, then the first at least `intervalMs` after the last. */
export function expectedPicks(tags: readonly FlvTag[], intervalMs: number): number[] {
  const picks: number[] = [];
  for (const tag of tags) {
    if (!isVideoKeyframe(tag)) continue;
    if (picks.length === 0 || tag.timestamp - picks[picks.length - 1] >= intervalMs) picks.push(tag.timestamp);
  }
  return picks;
}

/** An executable script in `dir`; returns its path. */
export function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Whether a process is alive (a zombie is not: it has exited and waits only to be reaped). */
export function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return false;
  try {
    const state = readFileSync(stat, 'utf8').replace(/^.*\) /s, '')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
