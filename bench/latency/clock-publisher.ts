import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CODE_HEIGHT, drawCode } from './clock-code';

/**
 * The "glass": Node draws each frame with its capture time (Date.now() at the moment the frame is made)
 * burned in as blocks, and pipes raw gray frames to ffmpeg, which encodes H.264/AAC and publishes it.
 *
 * With `rawHlsDir`, the same encoded stream also goes (ffmpeg tee muxer) to a plain ffmpeg HLS muxer in a
 * directory: the raw ffmpeg → HLS pipeline that Keyframe is compared against, fed the identical frames.
 */

export interface ClockPublisherOptions {
  readonly rtmpUrl: string;
  readonly gopSeconds: number;
  readonly fps?: number;
  readonly width?: number;
  readonly height?: number;
  readonly videoBitrate?: string;
  /**
   * Publish at this size (ffmpeg scales the drawn frames up, nearest neighbour): a bigger source for a ladder
   * (issue 14) without drawing bigger frames. The code scales with the picture, as the page's reader expects.
   */
  readonly outputWidth?: number;
  readonly outputHeight?: number;
  /** Raw comparison pipeline: write HLS here as well, with this segment duration. */
  readonly rawHlsDir?: string;
  readonly rawSegmentSeconds?: number;
  readonly rawPlaylistSize?: number;
}

export interface ClockPublisher {
  readonly proc: ChildProcess;
  readonly framesSent: () => number;
  readonly framesDropped: () => number;
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  stop(): Promise<void>;
}

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf';

export function startClockPublisher(opts: ClockPublisherOptions): ClockPublisher {
  const fps = opts.fps ?? 30;
  const width = opts.width ?? 640;
  const height = opts.height ?? 360;
  const gop = Math.round(opts.gopSeconds * fps);
  const frameBytes = width * height;

  // A human-readable clock too (ffmpeg's wall clock when it draws, to the second), for screenshots.
  const filters = ['format=yuv420p'];
  if (opts.outputWidth && opts.outputHeight) filters.push(`scale=${opts.outputWidth}:${opts.outputHeight}:flags=neighbor`);
  if (existsSync(FONT)) {
    filters.push(`drawtext=fontfile=${FONT}:text='%{localtime\\:%T}':x=64:y=${height - 60}:fontsize=28:fontcolor=white:box=1:boxcolor=black@0.6`);
  }
  const hlsFlags = 'independent_segments+program_date_time+temp_file+delete_segments';
  const output = opts.rawHlsDir
    ? [
        '-flags',
        '+global_header',
        '-f',
        'tee',
        [
          `[f=flv:onfail=ignore]${opts.rtmpUrl}`,
          `[f=hls:hls_time=${opts.rawSegmentSeconds ?? 1}:hls_list_size=${opts.rawPlaylistSize ?? 6}:hls_flags=${hlsFlags}:` +
            `hls_segment_filename=${join(opts.rawHlsDir, 'seg_%d.ts')}:onfail=ignore]${join(opts.rawHlsDir, 'index.m3u8')}`,
        ].join('|'),
      ]
    : ['-f', 'flv', opts.rtmpUrl];
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostats',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'gray',
    '-s',
    `${width}x${height}`,
    '-framerate',
    String(fps),
    '-i',
    'pipe:0',
    '-re',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=44100',
    '-map',
    '0:v',
    '-map',
    '1:a',
    '-vf',
    filters.join(','),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-g',
    String(gop),
    '-keyint_min',
    String(gop),
    '-sc_threshold',
    '0',
    '-b:v',
    opts.videoBitrate ?? '1200k',
    '-maxrate',
    opts.videoBitrate ?? '1200k',
    '-bufsize',
    '600k',
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    // The tone never ends by itself: stop when the frames do.
    '-shortest',
    ...output,
  ];
  const proc = spawn(process.env.KEYFRAME_FFMPEG_PATH ?? 'ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => proc.once('exit', (code) => resolve({ code, stderr })));
  proc.stdin?.on('error', () => undefined);

  // The background: mid gray with a bar sweeping across below the code, so the encoder has motion.
  const background = Buffer.alloc(frameBytes, 96);
  let sent = 0;
  let dropped = 0;
  let stopped = false;
  const started = Date.now();
  const frameMs = 1000 / fps;
  let timer: NodeJS.Timeout | undefined;

  const makeFrame = (n: number, capturedAt: number): Buffer => {
    const frame = Buffer.from(background);
    const barX = Math.floor((n * 8) % width);
    for (let y = CODE_HEIGHT + 16; y < height; y++) frame.fill(230, y * width + barX, y * width + Math.min(width, barX + 24));
    drawCode(frame, width, capturedAt);
    return frame;
  };

  const tick = () => {
    if (stopped || !proc.stdin || proc.stdin.destroyed) return;
    const now = Date.now();
    // Frames due by now; a late timer sends what is due (each stamped when it is actually made).
    const due = Math.floor((now - started) / frameMs) + 1;
    while (sent + dropped < due) {
      // A real capture drops frames the encoder cannot take; so do we (more than ~3 frames queued).
      if (proc.stdin.writableLength > frameBytes * 3) {
        dropped++;
        continue;
      }
      proc.stdin.write(makeFrame(sent + dropped, Date.now()));
      sent++;
    }
    const next = started + (sent + dropped) * frameMs;
    timer = setTimeout(tick, Math.max(0, next - Date.now()));
  };
  tick();

  return {
    proc,
    framesSent: () => sent,
    framesDropped: () => dropped,
    exited,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.stdin?.end();
        const interrupt = setTimeout(() => proc.kill('SIGINT'), 2000);
        const kill = setTimeout(() => proc.kill('SIGKILL'), 6000);
        await exited;
        clearTimeout(interrupt);
        clearTimeout(kill);
      }
    },
  };
}
