/** Real CMAF for recorder tests (an ffmpeg FLV through the packager), and reading a recording back from S3. */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { InitOutput, SegmentOutput } from '../../../ingest/packager/index.js';
import { fromPackagerSegment, type Recorder } from '../../../ingest/recorder';
import { readFlvTags } from '../packager/support/flv-file.js';
import { collect, runFeed } from '../packager/support/run.js';

const run = promisify(execFile);

/** An FLV of `seconds` s (320x240, 1 s GOPs, AAC), as ffmpeg writes it for RTMP. */
export async function makeFlv(dir: string, seconds: number): Promise<string> {
  const file = join(dir, `feed-${seconds}.flv`);
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000'];
  args.push('-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '30', '-c:a', 'aac', '-f', 'flv', file);
  await run('ffmpeg', args);
  return file;
}

/** One publish's packager output. */
export interface Publish {
  readonly session: string;
  readonly inits: readonly InitOutput[];
  readonly segments: readonly SegmentOutput[];
}

/** The FLV through the packager, as one publish with session `session`. */
export function packageFlv(flv: string, session: string, mediaSequenceBase = 100): Publish {
  const c = collect({ session, mediaSequenceBase });
  runFeed(c, readFlvTags(readFileSync(flv)));
  if (c.errors.length > 0) throw new Error(`packager: ${c.errors.map((e) => e.message).join('; ')}`);
  return { session, inits: c.inits, segments: c.segments };
}

/** Feeds segments `from`..`to` (exclusive) to the recorder, the init first; returns each onSegment call's duration, ms. */
export function feed(rec: Recorder, p: Publish, from = 0, to = p.segments.length): number[] {
  if (from === 0) rec.onInit(p.inits[0].name, p.inits[0].bytes);
  const took: number[] = [];
  for (const s of p.segments.slice(from, to)) {
    const t = performance.now();
    rec.onSegment(fromPackagerSegment(s));
    took.push(performance.now() - t);
  }
  return took;
}

// Reading a recording back from S3 and its playlist: shared with the e2e tests.
export { getBytes, getText, listKeys, type ParsedPlaylist, parsePlaylist } from '../../support/recordings';

/** ffprobe over init + segment: stderr ('' when it decodes) and the frames read. */
export async function probe(dir: string, name: string, init: Buffer, segment: Buffer): Promise<{ stderr: string; frames: number }> {
  const file = join(dir, `${name}.mp4`);
  writeFileSync(file, Buffer.concat([init, segment]));
  const args = ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file];
  const { stdout, stderr } = await run('ffprobe', args);
  return { stderr, frames: Number(stdout.trim()) };
}
