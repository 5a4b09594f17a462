import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Publisher input for the benchmarks: a synthetic lavfi source encoded once to an FLV file (cached across
 * runs), then published with `-re -c copy`, so the publishers cost almost nothing and every run pushes the
 * same bytes.
 */

export interface SourceSpec {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly gopSeconds: number;
  /** Constant video bitrate (x264 CBR with filler), kbit/s. */
  readonly videoKbps: number;
  readonly audioKbps: number;
  readonly seconds: number;
}

export const SOURCE_720P30: Omit<SourceSpec, 'gopSeconds' | 'seconds'> = {
  width: 1280,
  height: 720,
  fps: 30,
  videoKbps: 3000,
  audioKbps: 128,
};

export const SOURCE_SMOKE: Omit<SourceSpec, 'gopSeconds' | 'seconds'> = {
  width: 320,
  height: 240,
  fps: 30,
  videoKbps: 400,
  audioKbps: 64,
};

const MEDIA_DIR = join(tmpdir(), 'keyframe-bench-media');

function run(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} exited ${code}: ${err}`));
    });
  });
}

/** Encodes the source once (H.264 CBR + AAC, fixed GOP, no scene cuts, no B-frames); returns the cached FLV path. */
export async function encodeSource(spec: SourceSpec): Promise<string> {
  mkdirSync(MEDIA_DIR, { recursive: true });
  const name = `src_nobf_${spec.width}x${spec.height}_${spec.fps}fps_gop${spec.gopSeconds}_${spec.videoKbps}k_${spec.audioKbps}k_${spec.seconds}s.flv`;
  const path = join(MEDIA_DIR, name);
  if (existsSync(path)) return path;
  const tmp = `${path}.${process.pid}.tmp.flv`;
  const gop = Math.round(spec.gopSeconds * spec.fps);
  const v = `${spec.videoKbps}k`;
  try {
    await run(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-nostats',
        '-y',
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.fps}`,
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:sample_rate=44100',
        '-t',
        String(spec.seconds),
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-pix_fmt',
        'yuv420p',
        '-profile:v',
        'high',
        // No B-frames: decode order = presentation order, so a `-re` publisher sends media time t at t.
        '-g',
        String(gop),
        '-keyint_min',
        String(gop),
        '-sc_threshold',
        '0',
        '-bf',
        '0',
        '-b:v',
        v,
        '-minrate',
        v,
        '-maxrate',
        v,
        '-bufsize',
        v,
        '-x264-params',
        'nal-hrd=cbr:force-cfr=1',
        '-c:a',
        'aac',
        '-b:a',
        `${spec.audioKbps}k`,
        '-ac',
        '2',
        '-f',
        'flv',
        tmp,
      ],
      180_000,
    );
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return path;
}

export interface FilePublisher {
  readonly proc: ChildProcess;
  /** Wall-clock ms when the process was spawned. */
  readonly spawnedAt: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  stop(): Promise<void>;
}

/**
 * Publishes an FLV file in real time (`-re -c copy`), looping it if asked. Always bounded by `seconds`
 * (ffmpeg's own `-t`), so a publisher never outlives a crashed benchmark by more than that.
 */
export function publishFile(opts: { file: string; url: string; seconds: number; loop?: boolean; outputOptions?: readonly string[] }): FilePublisher {
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostats',
    '-re',
    ...(opts.loop ? ['-stream_loop', '-1'] : []),
    '-i',
    opts.file,
    '-t',
    String(opts.seconds),
    '-map',
    '0',
    '-c',
    'copy',
    ...(opts.outputOptions ?? []),
    '-f',
    'flv',
    opts.url,
  ];
  const spawnedAt = Date.now();
  const proc = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  proc.stdin?.on('error', () => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    proc,
    spawnedAt,
    exited,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.stdin?.write('q');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
