import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { main } from '../../cli/main';
import type { RecordingView } from '../../cli/recordings';
import type { LocalStack } from '../../local/stack';
import { writeLocalState } from '../../local/state';

/**
 * Helpers for the recording tests: the CLI against a running local stack (as `npx keyframe` finds it, through
 * its state file), and a recording's objects read back from the local S3-compatible server.
 */

/** Points the CLI at `stack` (a state file in a temporary KEYFRAME_STATE_DIR); returns a restore function. */
export async function cliFor(stack: LocalStack): Promise<{ run: (...argv: string[]) => Promise<string>; restore: () => void }> {
  const dir = await mkdtemp(join(tmpdir(), 'kf-rec-cli-'));
  const saved = process.env.KEYFRAME_STATE_DIR;
  process.env.KEYFRAME_STATE_DIR = dir;
  await writeLocalState(dir, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    dynamoEndpoint: stack.dynamoEndpoint,
    tableName: stack.tableName,
    rtmpUrl: stack.rtmpUrl,
    playbackBaseUrl: stack.urls.playbackBaseUrl,
    recordingBucket: stack.recordingBucket,
    s3Endpoint: stack.s3.endpoint,
  });
  return {
    async run(...argv) {
      let out = '';
      const code = await main(argv, (s) => (out += s));
      if (code !== 0) throw new Error(`keyframe ${argv.join(' ')} exited ${code}: ${out}`);
      return out;
    },
    restore() {
      if (saved === undefined) delete process.env.KEYFRAME_STATE_DIR;
      else process.env.KEYFRAME_STATE_DIR = saved;
    },
  };
}

/** `keyframe recordings list <channel> --json`. */
export async function listRecordingsJson(run: (...argv: string[]) => Promise<string>, channel: string): Promise<RecordingView[]> {
  return JSON.parse(await run('recordings', 'list', channel, '--json')) as RecordingView[];
}

export async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body!.transformToString();
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

/** A recording's media playlist: its segments, each with the EXT-X-MAP it needs and whether a discontinuity precedes it. */
export interface ParsedPlaylist {
  readonly type: string | undefined;
  readonly ended: boolean;
  readonly segments: { uri: string; duration: number; map: string; discontinuity: boolean }[];
}

export function parsePlaylist(text: string): ParsedPlaylist {
  const segments: ParsedPlaylist['segments'] = [];
  let map = '';
  let duration: number | undefined;
  let disc = false;
  for (const line of text.split('\n')) {
    const m = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line);
    if (m) map = m[1];
    else if (line === '#EXT-X-DISCONTINUITY') disc = true;
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith('#') && duration !== undefined) {
      segments.push({ uri: line, duration, map, discontinuity: disc });
      duration = undefined;
      disc = false;
    }
  }
  return { type: /^#EXT-X-PLAYLIST-TYPE:(\w+)$/m.exec(text)?.[1], ended: /^#EXT-X-ENDLIST$/m.test(text), segments };
}

/**
 * Downloads a recording (playlist, inits, segments) into a directory and decodes it all with ffmpeg. Returns
 * the decoded video frame count and ffmpeg's error output (empty when every segment decoded cleanly).
 */
export async function downloadAndDecode(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ playlist: ParsedPlaylist; frames: number; errors: string; decodedSeconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'kf-rec-dl-'));
  const text = await getText(s3, bucket, `${prefix}index.m3u8`);
  const playlist = parsePlaylist(text);
  const names = new Set<string>([...playlist.segments.map((s) => s.uri), ...playlist.segments.map((s) => s.map)]);
  await Promise.all([...names].map(async (n) => writeFile(join(dir, n), await getBytes(s3, bucket, prefix + n))));
  await writeFile(join(dir, 'index.m3u8'), text);
  const { stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn('ffmpeg', [
      '-hide_banner',
      '-nostats',
      '-v',
      'error',
      '-allowed_extensions',
      'ALL',
      '-i',
      join(dir, 'index.m3u8'),
      '-map',
      '0:v',
      '-f',
      'null',
      '-progress',
      'pipe:2',
      '-',
    ]);
    let err = '';
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (d: string) => (err += d));
    p.on('exit', (code) => resolve({ code, stderr: err }));
  });
  const frames = Math.max(0, ...[...stderr.matchAll(/^frame=(\d+)$/gm)].map((m) => Number(m[1])));
  const outTimeUs = Math.max(0, ...[...stderr.matchAll(/^out_time_us=(\d+)$/gm)].map((m) => Number(m[1])));
  const errors = stderr
    .split('\n')
    .filter((l) => l && !/^[a-z0-9_]+=/.test(l))
    .join('\n');
  return { playlist, frames, errors, decodedSeconds: outTimeUs / 1e6 };
}
