/**
 * The two ladder commands bench/ladder.ts puts side by side, on the same real-time FLV source:
 *
 *   ours     the ingest's own transcoder (ingest/ladder `LadderTranscoder`, so exactly `ladderFfmpegArgs`), fed the
 *            file's tags on stdin at their media time (looped), rungs back as FLV on pipes;
 *   finbits  one ffmpeg reading the file with `-re`, `split` into one `scale` per rung, each rung an x264 output
 *            with its own HLS muxer (`-f hls`) in a directory: the finbits-style command.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type LadderOutput, ladderFfmpegArgs } from '../../ingest/ladder/args';
import type { SourceSpec } from './media';

const run = promisify(execFile);

export interface FlvFileTag {
  readonly type: number;
  /** The tag's timestamp (DTS), ms. */
  readonly ts: number;
  /** The tag body (what an RTMP message carries). */
  readonly body: Buffer;
}

/** The tags of an FLV file, in file order. */
export function readFlvTags(path: string): FlvFileTag[] {
  const flv = readFileSync(path);
  const tags: FlvFileTag[] = [];
  for (let pos = flv.readUInt32BE(5) + 4; pos + 11 <= flv.length; ) {
    const size = flv.readUIntBE(pos + 1, 3);
    const end = pos + 11 + size;
    if (end + 4 > flv.length) break;
    tags.push({ type: flv[pos] & 0x1f, ts: (flv.readUIntBE(pos + 4, 3) | (flv[pos + 7] << 24)) >>> 0, body: flv.subarray(pos + 11, end) });
    pos = end + 4;
  }
  return tags;
}

/** A video tag body: AVC frame (not a sequence header), and whether it is a keyframe. */
export function avcFrame(body: Buffer): { key: boolean } | undefined {
  if (body.length < 5 || (body[0] & 0x0f) !== 7 || body[1] !== 1) return undefined;
  return { key: body[0] >> 4 === 1 };
}

/**
 * Feeds the tags at their media time, looped (timestamps shifted by the file's length on each loop), to `push`,
 * as an RTMP connection from a `-re` publisher hands over its messages. Metadata and sequence headers go only
 * on the first loop. Returns a stop function.
 */
export function feedRealtime(tags: readonly FlvFileTag[], push: (type: number, ts: number, body: Buffer) => void): { stop(): void } {
  const media = tags.filter((t) => !isConfigTag(t));
  const first = tags[0]?.ts ?? 0;
  const last = media.length ? media[media.length - 1].ts : first;
  const frameMs = 1000 / 30;
  const loopMs = Math.round(last - first + frameMs);
  const started = performance.now();
  let next = 0;
  let loop = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const list = (k: number) => (k === 0 ? tags : media);
  const tick = () => {
    if (stopped) return;
    const now = performance.now() - started;
    for (;;) {
      const t = list(loop)[next];
      const at = t.ts - first + loop * loopMs;
      if (at > now) break;
      // Sequence headers and metadata only on the first loop (later loops: the same configuration).
      push(t.type, t.ts + loop * loopMs, t.body);
      if (++next === list(loop).length) {
        next = 0;
        loop++;
      }
    }
    const t = list(loop)[next];
    timer = setTimeout(tick, Math.max(0, t.ts - first + loop * loopMs - (performance.now() - started)));
  };
  tick();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** Metadata or a sequence header (AVC or AAC packet type 0): sent on the first loop only. */
export function isConfigTag(t: FlvFileTag): boolean {
  return t.type === 18 || (t.type === 9 && t.body[1] === 0) || (t.type === 8 && t.body[1] === 0);
}

/** The x264 options our command gives a rung, read from `ladderFfmpegArgs` so that the finbits-style command's stay the same. */
export function ourX264Options(output: LadderOutput, preset?: string): string[] {
  const argv = ladderFfmpegArgs({ outputs: [output], segmentSeconds: 2, ...(preset ? { preset } : {}) });
  const keep = ['-preset', '-tune', '-profile:v', '-b:v', '-maxrate', '-bufsize', '-bf', '-threads'];
  const out: string[] = [];
  // From the rung's encoder on (the `-threads` before the input is the decoder's).
  for (let i = argv.indexOf('-c:v'); i > 0 && i < argv.length - 1; i++) if (keep.includes(argv[i])) out.push(argv[i], argv[i + 1]);
  return out;
}

export interface FinbitsOptions {
  readonly file: string;
  readonly dir: string;
  readonly outputs: readonly LadderOutput[];
  readonly segmentSeconds: number;
  readonly fps: number;
  readonly seconds: number;
  /**
   * x264 as ours (`same`: preset, zerolatency, high, CBR-ish VBV, no B-frames, the same threads, a fixed GOP with
   * `-keyint_min`), or as a tutorial writes it (`defaults`: preset, bitrate, VBV and `-g` only, so x264's lookahead,
   * B-frames and scene-cut keyframes).
   */
  readonly x264: 'same' | 'defaults';
  readonly preset?: string;
}

/**
 * The finbits-style command: one ffmpeg, `-re` on the file (looped), decode once, `split`, one `scale=-2:<h>` per
 * rung, each an x264 output with its own HLS muxer. Keyframes every `segmentSeconds` by x264's own GOP (`-g`),
 * the usual way; audio copied into each rung, as ours does.
 */
export function finbitsArgs(o: FinbitsOptions): string[] {
  const n = o.outputs.length;
  const graph =
    n === 1
      ? `[0:v]scale=-2:${o.outputs[0].height}[v0]`
      : `[0:v]split=${n}${o.outputs.map((_, i) => `[s${i}]`).join('')};${o.outputs.map((r, i) => `[s${i}]scale=-2:${r.height}[v${i}]`).join(';')}`;
  const gop = String(Math.round(o.segmentSeconds * o.fps));
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', o.file, '-t', String(o.seconds)];
  args.push('-filter_complex', graph);
  o.outputs.forEach((r, i) => {
    const kbps = `${Math.round(r.videoKbps)}k`;
    const x264 =
      o.x264 === 'same'
        ? ourX264Options(r, o.preset)
        : ['-preset', o.preset ?? 'veryfast', '-b:v', kbps, '-maxrate', kbps, '-bufsize', `${Math.round(r.videoKbps * 2)}k`];
    args.push(
      '-map',
      `[v${i}]`,
      '-map',
      '0:a:0?',
      '-c:a',
      'copy',
      '-c:v',
      'libx264',
      ...x264,
      '-g',
      gop,
      ...(o.x264 === 'same' ? ['-keyint_min', gop] : []),
      '-pix_fmt',
      'yuv420p',
      '-f',
      'hls',
      '-hls_time',
      String(o.segmentSeconds),
      '-hls_list_size',
      '0',
      '-hls_segment_filename',
      join(o.dir, `${r.name}_%d.ts`),
      join(o.dir, `${r.name}.m3u8`),
    );
  });
  return args;
}

/** The first video PTS of each MPEG-TS segment, s (ffprobe, one call per file). */
export async function segmentStarts(files: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  for (const f of files) {
    const { stdout } = await run('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-read_intervals',
      '%+#1',
      '-show_entries',
      'packet=pts_time',
      '-of',
      'csv=p=0',
      f,
    ]);
    out.push(Number.parseFloat(stdout.trim().split('\n')[0]));
  }
  return out;
}

/**
 * How well several lists of segment start times (s, each relative to its own first) line up: per index i present
 * in every list, the spread max − min of the i-th starts; the worst spread and how many indexes are off by more
 * than one frame.
 */
export function boundarySpread(
  lists: ReadonlyArray<readonly number[]>,
  frameSeconds: number,
): { compared: number; maxSpreadMs: number; misaligned: number } {
  const n = Math.min(...lists.map((l) => l.length));
  let max = 0;
  let mis = 0;
  for (let i = 0; i < n; i++) {
    const v = lists.map((l) => l[i] - l[0]);
    const spread = Math.max(...v) - Math.min(...v);
    max = Math.max(max, spread);
    if (spread > frameSeconds + 1e-3) mis++;
  }
  return { compared: Number.isFinite(n) ? n : 0, maxSpreadMs: Math.round(max * 1000), misaligned: mis };
}

/**
 * A source with hard scene cuts off the keyframe grid: testsrc2 with SMPTE bars over it for 0.9 s of every 2.7 s
 * (cuts at 0.9 s and 2.7 s, then every 2.7 s), encoded like bench/lib/media.ts's sources (fixed GOP, no scene-cut
 * keyframes, no B-frames). Cached in the same directory.
 */
export async function encodeCutSource(spec: SourceSpec): Promise<string> {
  const dir = join(tmpdir(), 'keyframe-bench-media');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `src_cuts_${spec.width}x${spec.height}_${spec.fps}fps_gop${spec.gopSeconds}_${spec.videoKbps}k_${spec.seconds}s.flv`);
  if (existsSync(path)) return path;
  const tmp = `${path}.${process.pid}.tmp.flv`;
  const size = `${spec.width}x${spec.height}`;
  const gop = String(Math.round(spec.gopSeconds * spec.fps));
  const v = `${spec.videoKbps}k`;
  try {
    await run(
      'ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-nostats', '-y'],
        ...['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${spec.fps}`, '-f', 'lavfi', '-i', `smptehdbars=size=${size}:rate=${spec.fps}`],
        ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'],
        ...['-filter_complex', "[0:v][1:v]overlay=enable='lt(mod(t,2.7),0.9)'[v]", '-map', '[v]', '-map', '2:a', '-t', String(spec.seconds)],
        ...[
          '-c:v',
          'libx264',
          '-preset',
          'veryfast',
          '-pix_fmt',
          'yuv420p',
          '-profile:v',
          'high',
          '-g',
          gop,
          '-keyint_min',
          gop,
          '-sc_threshold',
          '0',
          '-bf',
          '0',
        ],
        ...['-b:v', v, '-maxrate', v, '-bufsize', v, '-c:a', 'aac', '-b:a', `${spec.audioKbps}k`, '-ac', '2', '-f', 'flv', tmp],
      ],
      { timeout: 300_000 },
    );
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return path;
}
