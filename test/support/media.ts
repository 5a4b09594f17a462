import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';

/** The one wait helper lives in ./wait; re-exported for the tests that import it from here. */
export { waitFor } from './wait';

export interface Publisher {
  readonly proc: ChildProcess;
  /** Resolves when ffmpeg exits, with its exit code and the last of what it printed. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Ends the publish cleanly (ffmpeg sends FCUnpublish/deleteStream on `q`). */
  stop(): Promise<void>;
}

/**
 * A real RTMP publisher: ffmpeg with a synthetic lavfi test pattern and tone, encoded as H.264/AAC with a
 * fixed GOP, paced in real time (-re).
 */
export function startPublisher(opts: {
  url: string;
  seconds?: number;
  gopSeconds?: number;
  fps?: number;
  size?: string;
  videoBitrate?: string;
  clock?: boolean;
}): Publisher {
  const fps = opts.fps ?? 30;
  const gop = Math.round((opts.gopSeconds ?? 2) * fps);
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostats',
    '-re',
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=${opts.size ?? '320x240'}:rate=${fps}`,
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=44100',
    ...(opts.seconds ? ['-t', String(opts.seconds)] : []),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(gop),
    '-keyint_min',
    String(gop),
    '-sc_threshold',
    '0',
    ...(opts.videoBitrate ? ['-b:v', opts.videoBitrate] : []),
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    '-f',
    'flv',
    opts.url,
  ];
  const proc = spawn(process.env.KEYFRAME_FFMPEG_PATH ?? 'ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    proc,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.stdin?.write('q');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

export interface FfprobeStream {
  codec_type: string;
  codec_name: string;
}

/** Decodes a media file with ffprobe; throws if ffprobe cannot. */
export async function ffprobe(path: string): Promise<{ streams: FfprobeStream[]; duration: number }> {
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:format=duration', '-of', 'json', path]);
    let data = '';
    let err = '';
    p.stdout.on('data', (d) => (data += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => (code === 0 ? resolve(data) : reject(new Error(`ffprobe ${path} failed: ${err}`))));
  });
  const json = JSON.parse(out) as { streams: FfprobeStream[]; format: { duration?: string } };
  return { streams: json.streams, duration: Number(json.format.duration ?? 0) };
}

/** A raw GET with the path exactly as given (fetch() would normalize `..` away). */
export function rawGet(
  base: string,
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}
