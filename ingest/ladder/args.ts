/**
 * The one ffmpeg command of a quality ladder (docs/ladder.md): FLV on stdin, decoded once, `split` into one
 * `scale` per rung, each encoded with x264 and written as FLV to its own pipe (rung i on fd 3 + i). Pure, so a
 * benchmark can run exactly the command the ingest runs, and the tests can read it as data.
 */
import { type Rung, rungSize } from '../../core/ladder';

/** One rung as the command needs it. */
export interface LadderOutput {
  /** `720p`: the rung's name (core/ladder.ts). */
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** x264 target = VBV maximum, kbit/s; the VBV buffer holds one second of it. */
  readonly videoKbps: number;
  /** x264 threads for this rung. @default `rungThreads(height)` */
  readonly threads?: number;
}

export interface LadderArgsOptions {
  /** Highest first, as core/ladder.ts lists them; rung i is written to fd 3 + i. */
  readonly outputs: readonly LadderOutput[];
  /** The packager's segment grid, s: a keyframe is forced at every grid line. */
  readonly segmentSeconds: number;
  /**
   * Where the grid starts, in seconds after the first frame this ffmpeg encodes (ffmpeg's `t` in
   * `-force_key_frames expr:` counts from that frame). 0: the grid starts at that frame; a restart mid-publish
   * passes the offset of the publish's grid, which may be negative. @default 0
   */
  readonly gridOffsetSeconds?: number;
  /**
   * A step between consecutive frames beyond this (forward), or a step back of more than 0.1 s, restarts the grid
   * at that frame, as the packager restarts its grid after a timestamp jump. @default 2 (the packager's `jumpThresholdMs`)
   */
  readonly jumpSeconds?: number;
  /** x264 preset. @default 'veryfast' */
  readonly preset?: string;
  /** Decoder threads. @default 1 (frame threads would add a frame of delay each) */
  readonly decodeThreads?: number;
  /** Copy the source's AAC into every rung (`copy`), or leave audio out (`none`). @default 'copy' */
  readonly audio?: 'copy' | 'none';
  /** ffmpeg's log level. @default 'error' */
  readonly logLevel?: string;
}

/** The packager's grid tolerance: a frame this close before a grid line counts as on it (ms-rounded timestamps). */
export const GRID_TOLERANCE_SECONDS = 0.002;

/**
 * x264 threads for a rung of this height. Measured (docs/ladder.md, "Threads"): with `-tune zerolatency` x264
 * threads by slices, which costs CPU per frame for nothing on small pictures; one thread encodes a 480p frame in
 * a few ms at `veryfast`, so only 720p and up get more.
 */
export function rungThreads(height: number): number {
  return height >= 1080 ? 3 : height >= 720 ? 2 : 1;
}

/** The outputs for rungs of a source: sizes from core/ladder.ts `rungSize`, bitrates from the rung. */
export function ladderOutputs(rungs: readonly Rung[], source: { width: number; height: number }): LadderOutput[] {
  return rungs.map((r) => ({ name: r.name, ...rungSize(r, source), videoKbps: r.videoKbps }));
}

function num(n: number): string {
  // Plain decimal (never exponent notation) with up to 6 decimals: ffmpeg's expression parser reads it exactly.
  const s = n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

/**
 * The `-force_key_frames` expression: a keyframe on the first frame, then on the first frame at or past each
 * line of the grid `origin + k × segmentSeconds` (less the packager's 2 ms tolerance), and at a timestamp jump,
 * where the grid restarts. State lives in the expression's variables: 0 = grid origin, 1 = previous frame's t,
 * 3 = this frame's answer.
 */
export function keyframeExpression(segmentSeconds: number, gridOffsetSeconds = 0, jumpSeconds = 2): string {
  const S = num(segmentSeconds);
  const tol = num(GRID_TOLERANCE_SECONDS);
  const cell = (x: string) => `floor((${x}-ld(0)+${tol})/${S})`;
  return (
    `expr:if(eq(n,0),st(0,${num(gridOffsetSeconds)})+st(3,1),` +
    `if(gt(t-ld(1),${num(jumpSeconds)})+lt(t,ld(1)-0.1),st(0,t)+st(3,1),` +
    `st(3,gt(${cell('t')},${cell('ld(1)')}))));st(1,t);ld(3)`
  );
}

/** The filter graph: decode once, split, one scale per rung (`[v0]`, `[v1]`, …). */
export function ladderFilterGraph(outputs: readonly LadderOutput[]): string {
  const scale = (o: LadderOutput) => `scale=w=${o.width}:h=${o.height}:flags=bicubic,format=yuv420p`;
  if (outputs.length === 1) return `[0:v:0]${scale(outputs[0])}[v0]`;
  const split = `[0:v:0]split=${outputs.length}${outputs.map((_, i) => `[s${i}]`).join('')}`;
  return [split, ...outputs.map((o, i) => `[s${i}]${scale(o)}[v${i}]`)].join(';');
}

/** The argv (without the program) of a ladder's ffmpeg. Throws on an empty ladder or odd sizes. */
export function ladderFfmpegArgs(opts: LadderArgsOptions): string[] {
  const outputs = opts.outputs;
  if (outputs.length === 0) throw new RangeError('a ladder needs at least one rung');
  for (const o of outputs) {
    if (o.width % 2 || o.height % 2 || o.width < 2 || o.height < 2) throw new RangeError(`rung ${o.name}: ${o.width}x${o.height} must be even`);
    if (!(o.videoKbps > 0)) throw new RangeError(`rung ${o.name}: videoKbps ${o.videoKbps} must be positive`);
  }
  if (!(opts.segmentSeconds > 0)) throw new RangeError(`segmentSeconds ${opts.segmentSeconds} must be positive`);
  const preset = opts.preset ?? 'veryfast';
  const keyframes = keyframeExpression(opts.segmentSeconds, opts.gridOffsetSeconds ?? 0, opts.jumpSeconds ?? 2);
  // x264's own keyframe interval only matters if a forced keyframe were missed: well above the grid (60 fps).
  const gop = String(Math.max(250, Math.ceil(opts.segmentSeconds * 60 * 10)));
  const args = [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    opts.logLevel ?? 'error',
    '-threads',
    String(opts.decodeThreads ?? 1),
    // FLV carries its codec configuration in its first tags: a short probe starts the rungs sooner.
    '-probesize',
    '65536',
    '-analyzeduration',
    '100000',
    '-f',
    'flv',
    '-i',
    'pipe:0',
    // Timestamps stay the source's: no start offset, no re-timing (with -fps_mode passthrough and a 1 ms encoder
    // time base below, every rung frame keeps its source frame's PTS to the millisecond).
    '-copyts',
    '-filter_complex',
    ladderFilterGraph(outputs),
  ];
  outputs.forEach((o, i) => {
    const kbps = `${Math.round(o.videoKbps)}k`;
    args.push(
      '-map',
      `[v${i}]`,
      ...(opts.audio === 'none' ? [] : ['-map', '0:a:0?', '-c:a', 'copy']),
      '-c:v',
      'libx264',
      '-preset',
      preset,
      '-tune',
      'zerolatency',
      '-profile:v',
      'high',
      '-b:v',
      kbps,
      '-maxrate',
      kbps,
      '-bufsize',
      kbps,
      '-bf',
      '0',
      '-g',
      gop,
      '-sc_threshold',
      '0',
      '-forced-idr',
      '1',
      '-force_key_frames',
      keyframes,
      '-threads',
      String(o.threads ?? rungThreads(o.height)),
      '-enc_time_base:v',
      '1:1000',
      '-fps_mode',
      'passthrough',
      '-muxdelay',
      '0',
      '-flush_packets',
      '1',
      '-flvflags',
      'no_duration_filesize',
      '-f',
      'flv',
      `pipe:${3 + i}`,
    );
  });
  return args;
}
