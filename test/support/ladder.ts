import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Helpers for the quality-ladder tests: playlists through the origin, decoding a variant, the task's ffmpegs. */

const run = promisify(execFile);

export interface Variant {
  readonly uri: string;
  readonly attrs: Record<string, string>;
}

/** The variants of a multivariant playlist (`EXT-X-STREAM-INF` + URI). */
export function parseMultivariant(text: string): Variant[] {
  const lines = text.split('\n');
  const out: Variant[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('#EXT-X-STREAM-INF:')) continue;
    const attrs: Record<string, string> = {};
    for (const m of lines[i].slice(18).matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)) attrs[m[1]] = m[2].replace(/^"|"$/g, '');
    out.push({ uri: lines[i + 1], attrs });
  }
  return out;
}

export interface MediaSegment {
  readonly msn: number;
  readonly uri: string;
  readonly duration: number;
  readonly pdt?: number;
  readonly map: string;
}

/** A live media playlist's complete segments, with their numbers and program date-times. */
export function parseMedia(text: string): MediaSegment[] {
  const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  const out: MediaSegment[] = [];
  let msn = seq;
  let duration: number | undefined;
  let pdt: number | undefined;
  let map = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-MAP:URI="')) map = line.slice(16, line.indexOf('"', 16));
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith('#') && duration !== undefined) {
      out.push({ msn, uri: line, duration, ...(pdt !== undefined ? { pdt } : {}), map });
      if (pdt !== undefined) pdt += duration * 1000;
      msn++;
      duration = undefined;
    }
  }
  return out;
}

/** Decodes init + one segment with ffprobe: the video's size and the frames in it. */
export async function probeSegment(init: Buffer, segment: Buffer): Promise<{ width: number; height: number; frames: number; keyFirst: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), 'kf-ladder-'));
  const file = join(dir, 'seg.mp4');
  await writeFile(file, Buffer.concat([init, segment]));
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=width,height:frame=key_frame',
    '-of',
    'json',
    file,
  ]);
  const json = JSON.parse(stdout) as { streams: { width: number; height: number }[]; frames?: { key_frame: number }[] };
  const s = json.streams[0];
  return { width: s.width, height: s.height, frames: json.frames?.length ?? 0, keyFirst: json.frames?.[0]?.key_frame === 1 };
}

/** ffmpeg processes whose parent is `pid` (the ingest task), from /proc. */
export async function ffmpegChildren(pid: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)]).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, comm]) => comm === 'ffmpeg')
    .map(([p]) => Number(p));
}

/** Kills a process and waits for it to be gone. */
export function kill(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
