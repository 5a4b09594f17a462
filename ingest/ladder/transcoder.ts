/**
 * One ffmpeg per ladder (docs/ladder.md). The source's RTMP messages go to ffmpeg's stdin as FLV; each rung
 * comes back as FLV on its own pipe (fd 3 + i), is split into tags by the packager's `FlvTagReader`, and is
 * handed to `onMessage` as RTMP-style messages ready for that rung's `Packager.push`.
 *
 * Timestamps: ffmpeg keeps every frame's PTS (`-copyts`, passthrough, 1 ms encoder time base). The rungs have
 * no B-frames, so ffmpeg writes DTS = PTS; this class then gives each rung frame the DTS of the source frame of
 * the same rank (the n-th smallest PTS gets the n-th DTS) and the matching composition offset. A rung's
 * (DTS, PTS) pairs are then exactly the source's, B-frames or not, so the rung's packager cuts at the same
 * decode times as the source's. The rung's leading configuration tags (metadata, sequence headers) carry the
 * timestamp of the first message fed, as the source's do.
 *
 * Keyframes: ffmpeg forces one on every rung at each line of the source packager's segment grid (origin
 * `gridOriginMs`, or the first keyframe fed; restarted at timestamp jumps as the packager restarts it). Each
 * rung's output starts at such a keyframe: before it, only configuration tags are passed on (a restarted
 * process's first IDR is off the grid and is dropped, with what follows it until the next grid line).
 *
 * `push()` never throws and never blocks: input beyond `maxInputBytes` waiting in the pipe is dropped (to the
 * next keyframe) and reported, and output lagging the input by more than `lagLimitMs` of wall time for
 * `lagSustainMs` is reported; the supervisor decides what to do.
 */
import { type ChildProcess, spawn as nodeSpawn, type SpawnOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { newMediaUnit, parseAudioTag, parseVideoTag } from '../packager/flv.js';
import { FlvTagReader } from '../packager/tag-reader.js';
import { flvHeader, flvTag, scriptTagData } from '../rtmp/flv.js';
import { type LadderOutput, ladderFfmpegArgs } from './args.js';

export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/** Why the transcoder says it is in trouble. */
export type LadderFault =
  /** Output lags the input by more than `lagLimitMs` (wall time), sustained. */
  | 'behind'
  /** ffmpeg is not reading: the bytes waiting in its stdin passed `maxInputBytes`; input is being dropped. */
  | 'input-queue-full'
  /** The source's video timestamps went back; ffmpeg would re-time frames, so the process must be restarted. */
  | 'timestamps-backward'
  /** A rung's pipe carried bytes that are not FLV. */
  | 'bad-output';

export interface LadderExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** `end()` or `kill()` was called before it exited. */
  readonly expected: boolean;
  /** Spawning failed (`ENOENT`…). */
  readonly spawnError?: string;
  /** The last of what ffmpeg printed. */
  readonly stderr: string;
}

export interface LadderTranscoderOptions {
  /** The rungs, highest first (`ladderOutputs(rungsBelow(...), source)`). Zero rungs: nothing is spawned. */
  readonly outputs: readonly LadderOutput[];
  /** The packager's `segmentSeconds`: a keyframe is forced on every rung at each line of the grid. */
  readonly segmentSeconds: number;
  /**
   * The source timestamp (ms, the packager's first video sample) where the segment grid starts. Pass it when
   * restarting mid-publish; default: the first keyframe fed to this process.
   */
  readonly gridOriginMs?: number;
  /** Called with every rung message, in order per rung. A throw is caught (and counted in `stats()`). */
  readonly onMessage: (rung: string, type: number, timestamp: number, payload: Buffer) => void;
  /** Every rung has written a video frame (from its first grid keyframe on): output flows. Once per process. */
  readonly onFlowing?: () => void;
  readonly onFault?: (fault: LadderFault, detail: { lagMs: number; message: string }) => void;
  /** ffmpeg has exited and its pipes are closed (all output delivered). Once. */
  readonly onExit?: (exit: LadderExit) => void;
  readonly ffmpegPath?: string;
  /** x264 preset. @default 'veryfast' */
  readonly preset?: string;
  /** @default 2000 */
  readonly lagLimitMs?: number;
  /** @default 1000 */
  readonly lagSustainMs?: number;
  /** Bytes waiting in ffmpeg's stdin before input is dropped. @default 8 MiB (about 10 s of a 6 Mbit/s source) */
  readonly maxInputBytes?: number;
  /** The packager's `jumpThresholdMs`, mirrored by the keyframe grid. @default 2000 */
  readonly jumpThresholdMs?: number;
  /** After `end()`, ffmpeg is killed if it has not exited by then (a hung one would stay forever). @default 5000 */
  readonly endTimeoutMs?: number;
  /** Wall clock for the lag. @default Date.now */
  readonly now?: () => number;
  /** For tests. @default child_process.spawn */
  readonly spawn?: SpawnFn;
  /** ffmpeg's whole environment. @default this process's (inherited) */
  readonly env?: NodeJS.ProcessEnv;
}

export interface LadderStats {
  readonly pid?: number;
  readonly running: boolean;
  readonly flowing: boolean;
  readonly inputBytes: number;
  readonly droppedMessages: number;
  /** Per rung: video frames out, and the last rung video PTS (ms). */
  readonly rungs: ReadonlyArray<{
    readonly name: string;
    readonly frames: number;
    readonly skipped: number;
    readonly lastPts?: number;
    /** Wall ms from a source frame's push to its rung frame's arrival: the last one, and the most so far. */
    readonly latencyMs?: number;
    readonly maxLatencyMs: number;
  }>;
  readonly callbackErrors: number;
  readonly lagMs: number;
}

const VIDEO = 9;
const AUDIO = 8;
const SCRIPT = 18;
const STDERR_KEEP = 4096;
/** Audio kept while waiting for the first keyframe (about 2 s of AAC). */
const PRE_KEY_AUDIO = 100;
/** Source frames remembered for the DTS mapping and the lag (about a minute at 60 fps). */
const MAX_TRACKED_FRAMES = 4096;
/** The packager's: a frame this close before a grid line is on it (ms-rounded timestamps). */
const GRID_TOLERANCE_MS = 2;

interface RungState {
  readonly name: string;
  readonly reader: FlvTagReader;
  frames: number;
  /** Rank (in the source's PTS order, absolute) of the last frame out; -1 before any. */
  cursor: number;
  lastPts?: number;
  lastDts: number;
  /** Has written a video frame. */
  sawFrame: boolean;
  /** Has written an audio or video frame (configuration after this keeps its own timestamp). */
  anyFrame: boolean;
  /** Output has reached a keyframe on the source's segment grid; until then only configuration tags pass. */
  started: boolean;
  /** Rung frames dropped before that keyframe. */
  skipped: number;
  latencyMs?: number;
  maxLatencyMs: number;
  /** Audio written before that keyframe (ffmpeg interleaves it ahead of video): what is not older passes after it. */
  pendingAudio: { ts: number; payload: Buffer }[];
}

function si24(b: Buffer, pos: number): number {
  const v = (b[pos] << 16) | (b[pos + 1] << 8) | b[pos + 2];
  return v & 0x800000 ? v - 0x1000000 : v;
}

function writeSi24(b: Buffer, pos: number, v: number): void {
  const u = v < 0 ? v + 0x1000000 : v;
  b[pos] = (u >>> 16) & 0xff;
  b[pos + 1] = (u >>> 8) & 0xff;
  b[pos + 2] = u & 0xff;
}

/** A legacy AVC video tag body (what ffmpeg 5.1's FLV demuxer reads; Enhanced RTMP `avc1` is rewritten to it). */
function legacyAvc(key: boolean, packetType: 0 | 1, cto: number, data: Buffer): Buffer {
  const b = Buffer.allocUnsafe(5 + data.length);
  b[0] = (key ? 0x10 : 0x20) | 7;
  b[1] = packetType;
  writeSi24(b, 2, cto);
  data.copy(b, 5);
  return b;
}

export class LadderTranscoder {
  private readonly o: LadderTranscoderOptions;
  private readonly now: () => number;
  private readonly unit = newMediaUnit();
  private child: ChildProcess | undefined;
  private stdin: Writable | undefined;
  private readonly rungs: RungState[];
  private stderrTail = '';
  private ended = false;
  private expected = false;
  private exitInfo: LadderExit | undefined;
  private exitResolve!: (e: LadderExit) => void;
  /** Resolves when ffmpeg has exited and its output has been delivered (at once for an empty ladder). */
  readonly exited: Promise<LadderExit>;

  // before spawning: what ffmpeg must see first
  private headerTs: number | undefined;
  private metadata: Buffer | undefined;
  private videoConfig: Buffer | undefined;
  private audioConfig: Buffer | undefined;
  private preKeyAudio: { ts: number; body: Buffer }[] = [];

  // input state
  private dropping = false;
  private dropped = 0;
  private inputBytes = 0;
  private lastVideoDts: number | undefined;
  private flowing = false;
  private callbackErrors = 0;

  // the source's frames, for the DTS mapping and the lag: `srcPts` sorted, `srcDts` in decode order, both indexed
  // by rank - `base`.
  private base = 0;
  private readonly srcPts: number[] = [];
  private readonly srcWall: number[] = [];
  private readonly srcDts: number[] = [];

  // the source packager's segment grid (origin, reset at jumps) and the source frames that start its segments
  private gridOrigin: number | undefined;
  private prevSeenDts: number | undefined;
  private readonly boundaries = new Set<number>();
  private firstFedDts: number | undefined;

  private lagTimer: NodeJS.Timeout | undefined;
  private endTimer: NodeJS.Timeout | undefined;
  private overSince: number | undefined;
  private behindReported = false;
  private queueReported = false;

  constructor(options: LadderTranscoderOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
    this.rungs = options.outputs.map((r) => ({
      name: r.name,
      reader: new FlvTagReader(),
      frames: 0,
      cursor: -1,
      lastDts: -Infinity,
      sawFrame: false,
      anyFrame: false,
      started: false,
      skipped: 0,
      pendingAudio: [],
      maxLatencyMs: 0,
    }));
    this.exited = new Promise((r) => (this.exitResolve = r));
    if (this.rungs.length === 0) this.finish({ code: 0, signal: null, expected: true, stderr: '' });
  }

  /** ffmpeg's pid, once spawned (at the first video keyframe). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawned and not yet exited. */
  get running(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  /**
   * Feeds one RTMP message (type 8/9/18, raw timestamp, FLV tag body). Never throws, never blocks. ffmpeg is
   * spawned at the first AVC keyframe, and fed the latest metadata and sequence headers first.
   */
  push(type: number, timestamp: number, payload: Buffer): void {
    if (this.ended || this.rungs.length === 0 || this.exitInfo) return;
    try {
      this.feed(type, timestamp >>> 0, payload);
    } catch {
      // Malformed or unsupported input is the source packager's to refuse; the transcoder only skips it.
    }
  }

  /** Ends the input: ffmpeg encodes what it has, writes it out and exits (killed if it has not after `endTimeoutMs`). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.expected = true;
    if (!this.child) {
      if (!this.exitInfo) this.finish({ code: 0, signal: null, expected: true, stderr: '' });
      return;
    }
    this.stdin?.end();
    if (!this.exitInfo) {
      this.endTimer = setTimeout(() => this.killGroup(), this.o.endTimeoutMs ?? 5000);
      this.endTimer.unref();
    }
  }

  /** Kills ffmpeg (and anything it started) at once. */
  kill(): void {
    this.ended = true;
    this.expected = true;
    if (!this.child) {
      if (!this.exitInfo) this.finish({ code: null, signal: null, expected: true, stderr: '' });
      return;
    }
    this.killGroup();
  }

  /**
   * How long (wall ms) the oldest source frame not yet out of the slowest rung has waited; 0 when every rung has
   * caught up. Grows while ffmpeg is stuck or slower than the input.
   */
  lagMs(): number {
    if (!this.child || this.exitInfo) return 0;
    let cursor = Infinity;
    for (const r of this.rungs) cursor = Math.min(cursor, r.cursor);
    const i = cursor + 1 - this.base;
    if (i < 0 || i >= this.srcWall.length) return 0;
    // The oldest waiting frame: B-frames arrive after the frames they precede, so look a few ranks ahead too.
    let oldest = this.srcWall[i];
    for (let k = i + 1; k < Math.min(this.srcWall.length, i + 4); k++) oldest = Math.min(oldest, this.srcWall[k]);
    return Math.max(0, this.now() - oldest);
  }

  stats(): LadderStats {
    return {
      pid: this.pid,
      running: this.running,
      flowing: this.flowing,
      inputBytes: this.inputBytes,
      droppedMessages: this.dropped,
      rungs: this.rungs.map((r) => ({
        name: r.name,
        frames: r.frames,
        skipped: r.skipped,
        lastPts: r.lastPts,
        latencyMs: r.latencyMs,
        maxLatencyMs: r.maxLatencyMs,
      })),
      callbackErrors: this.callbackErrors,
      lagMs: this.lagMs(),
    };
  }

  // ---- input ----

  private feed(type: number, ts: number, payload: Buffer): void {
    if (type === SCRIPT) {
      if (this.child) return; // only the metadata before the start: later script data could add ffmpeg streams
      const body = scriptTagData(payload);
      if (body && body.length > 3 && body.toString('latin1', 3, 13) === 'onMetaData') this.metadata = body;
      return;
    }
    if (type !== VIDEO && type !== AUDIO) return;
    const u = this.unit;
    if (type === VIDEO) parseVideoTag(payload, u);
    else parseAudioTag(payload, u);
    if (u.kind === 'ignore' || u.kind === 'video-end') return;
    this.headerTs ??= ts;
    if (u.kind === 'video-config') {
      this.videoConfig = legacyAvc(true, 0, 0, u.data);
      if (this.child) this.write(VIDEO, ts, this.videoConfig);
      return;
    }
    if (u.kind === 'audio-config') {
      this.audioConfig = payload;
      if (this.child) this.write(AUDIO, ts, payload);
      return;
    }
    const boundary = u.kind === 'video-frame' && this.gridMark(ts, u.key);
    if (!this.child) {
      if (u.kind === 'audio-frame') {
        // Audio ahead of the stream's first video frame (the publish's start) belongs to the first segment.
        if (this.prevSeenDts === undefined && this.preKeyAudio.length < PRE_KEY_AUDIO) this.preKeyAudio.push({ ts, body: payload });
        return;
      }
      if (!u.key || !this.videoConfig) {
        this.preKeyAudio = [];
        return;
      }
      this.firstFedDts = ts;
      this.start(ts);
    }
    if (u.kind === 'video-frame') {
      // Back by more than the packager's 100 ms (a jump for it): ffmpeg would re-time frames. Smaller steps are jitter.
      if (this.lastVideoDts !== undefined && ts < this.lastVideoDts - 100) {
        this.fault('timestamps-backward', `video timestamp went back from ${this.lastVideoDts} to ${ts} ms`);
      }
      if (this.dropping) {
        if (!u.key || (this.stdin?.writableLength ?? 0) > (this.o.maxInputBytes ?? 8 << 20) / 2) {
          this.dropped++;
          return;
        }
        this.dropping = false;
      }
      const body = payload[0] & 0x80 ? legacyAvc(u.key, 1, u.cto, u.data) : payload;
      if (!this.write(VIDEO, ts, body)) return;
      this.lastVideoDts = ts;
      this.noteSourceFrame(ts, ts + u.cto);
      if (boundary && !this.rungs.every((r) => r.started)) {
        this.boundaries.add(ts);
        if (this.boundaries.size > 64) this.boundaries.delete(this.boundaries.values().next().value!);
      }
    } else if (this.dropping) {
      this.dropped++;
    } else {
      this.write(AUDIO, ts, payload);
    }
  }

  /**
   * Whether the source video frame at `dts` starts a segment of the source's packager: the first frame at or past
   * a grid line (less its 2 ms tolerance), or the first after a timestamp jump (where its grid restarts).
   */
  private gridMark(dts: number, key: boolean): boolean {
    const prev = this.prevSeenDts;
    this.prevSeenDts = dts;
    const J = this.o.jumpThresholdMs ?? 2000;
    if (prev !== undefined && (dts - prev > J || dts < prev - 100)) {
      this.gridOrigin = dts;
      return true;
    }
    if (this.gridOrigin === undefined) {
      if (this.o.gridOriginMs !== undefined) this.gridOrigin = this.o.gridOriginMs;
      else if (key && this.videoConfig && !this.child) {
        this.gridOrigin = dts; // the grid starts at the first keyframe fed
        return true;
      } else return false;
    }
    const S = this.o.segmentSeconds * 1000;
    const cell = (x: number) => Math.floor((x - this.gridOrigin! + GRID_TOLERANCE_MS) / S);
    if (prev === undefined) {
      // No frame before it: on the grid only if within the tolerance of a line.
      const into = (((dts - this.gridOrigin + GRID_TOLERANCE_MS) % S) + S) % S;
      return into <= GRID_TOLERANCE_MS + 0.5;
    }
    return cell(dts) > cell(prev);
  }

  /** Writes one tag; false when it was dropped because ffmpeg is not reading. */
  private write(type: number, ts: number, body: Buffer): boolean {
    const stdin = this.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) return false;
    const limit = this.o.maxInputBytes ?? 8 << 20;
    if (stdin.writableLength > limit) {
      this.dropping = true;
      this.dropped++;
      if (!this.queueReported) {
        this.queueReported = true;
        this.fault('input-queue-full', `ffmpeg is not reading: ${stdin.writableLength} bytes wait in its input`);
      }
      return false;
    }
    const tag = flvTag(type, ts, body);
    this.inputBytes += tag.length;
    stdin.write(tag);
    return true;
  }

  private noteSourceFrame(dts: number, pts: number): void {
    const wall = this.now();
    if (this.srcDts.length >= MAX_TRACKED_FRAMES) {
      // A rung that never answers (the lag says so): forget the oldest rather than grow.
      this.srcPts.shift();
      this.srcWall.shift();
      this.srcDts.shift();
      this.base++;
    }
    this.srcDts.push(dts);
    let i = this.srcPts.length;
    while (i > 0 && this.srcPts[i - 1] > pts) i--;
    if (i === this.srcPts.length) {
      this.srcPts.push(pts);
      this.srcWall.push(wall);
    } else {
      this.srcPts.splice(i, 0, pts);
      this.srcWall.splice(i, 0, wall);
    }
  }

  private start(firstKeyTs: number): void {
    const origin = this.o.gridOriginMs ?? firstKeyTs;
    const args = ladderFfmpegArgs({
      outputs: this.o.outputs,
      segmentSeconds: this.o.segmentSeconds,
      gridOffsetSeconds: (origin - firstKeyTs) / 1000,
      jumpSeconds: (this.o.jumpThresholdMs ?? 2000) / 1000,
      preset: this.o.preset,
    });
    const spawn = this.o.spawn ?? (nodeSpawn as SpawnFn);
    let child: ChildProcess;
    try {
      child = spawn(this.o.ffmpegPath ?? 'ffmpeg', args, {
        stdio: ['pipe', 'ignore', 'pipe', ...this.rungs.map(() => 'pipe' as const)],
        // Its own process group, so a kill also reaches what a wrapper started.
        detached: true,
        env: this.o.env,
      });
    } catch (err) {
      this.finish({ code: null, signal: null, expected: false, spawnError: (err as Error).message, stderr: '' });
      return;
    }
    this.child = child;
    this.stdin = child.stdin ?? undefined;
    this.stdin?.on('error', () => {
      // EPIPE after ffmpeg died: the exit handler reports it.
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-STDERR_KEEP);
    });
    child.stderr?.on('error', () => {});
    this.rungs.forEach((r, i) => {
      const out = child.stdio[3 + i] as Readable | null;
      out?.on('data', (chunk: Buffer) => this.output(r, chunk));
      out?.on('error', () => {});
    });
    let spawnError: string | undefined;
    child.on('error', (err) => {
      spawnError = err.message;
      if (child.pid === undefined) this.finish({ code: null, signal: null, expected: this.expected, spawnError, stderr: this.stderrTail });
    });
    child.on('exit', () => {
      // Leftovers of a wrapper would hold the pipes open.
      this.killGroup();
    });
    child.on('close', (code, signal) => {
      this.finish({ code, signal, expected: this.expected, spawnError, stderr: this.stderrTail });
    });
    this.lagTimer = setInterval(() => this.checkLag(), 200);
    this.lagTimer.unref();

    const ts = this.headerTs ?? firstKeyTs;
    this.stdin?.write(flvHeader({ audio: this.audioConfig !== undefined, video: true }));
    if (this.metadata) this.write(SCRIPT, ts, this.metadata);
    if (this.videoConfig) this.write(VIDEO, ts, this.videoConfig);
    if (this.audioConfig) this.write(AUDIO, ts, this.audioConfig);
    for (const a of this.preKeyAudio) this.write(AUDIO, a.ts, a.body);
    this.preKeyAudio = [];
  }

  private killGroup(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        this.child?.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  private finish(exit: LadderExit): void {
    if (this.exitInfo) return;
    this.exitInfo = exit;
    if (this.lagTimer) clearInterval(this.lagTimer);
    if (this.endTimer) clearTimeout(this.endTimer);
    try {
      this.o.onExit?.(exit);
    } catch {
      this.callbackErrors++;
    }
    this.exitResolve(exit);
  }

  private fault(fault: LadderFault, message: string): void {
    try {
      this.o.onFault?.(fault, { lagMs: this.lagMs(), message });
    } catch {
      this.callbackErrors++;
    }
  }

  private checkLag(): void {
    const lag = this.lagMs();
    const limit = this.o.lagLimitMs ?? 2000;
    if (lag <= limit) {
      this.overSince = undefined;
      this.behindReported = false;
      return;
    }
    const now = this.now();
    this.overSince ??= now;
    if (!this.behindReported && now - this.overSince >= (this.o.lagSustainMs ?? 1000)) {
      this.behindReported = true;
      this.fault('behind', `rung output is ${Math.round(lag)} ms behind the input`);
    }
  }

  // ---- output ----

  private output(r: RungState, chunk: Buffer): void {
    if (this.exitInfo) return;
    let tags: ReturnType<FlvTagReader['push']>;
    try {
      tags = r.reader.push(chunk);
    } catch (err) {
      this.fault('bad-output', `rung ${r.name}: ${(err as Error).message}`);
      this.killGroup();
      return;
    }
    for (const tag of tags) this.rungTag(r, tag.type, tag.timestamp, tag.payload);
  }

  private rungTag(r: RungState, type: number, ts: number, payload: Buffer): void {
    let outTs = ts;
    if (type === VIDEO && payload.length >= 5 && (payload[0] & 0x0f) === 7 && payload[1] === 1) {
      const pts = ts + si24(payload, 2);
      const before = r.cursor;
      const dts = this.sourceDts(r, pts);
      if (r.cursor !== before) {
        // Wall time from the source frame's push to its rung frame's arrival: what the transcoder adds.
        r.latencyMs = this.now() - this.srcWall[r.cursor - this.base];
        r.maxLatencyMs = Math.max(r.maxLatencyMs, r.latencyMs);
      }
      writeSi24(payload, 2, pts - dts);
      outTs = dts;
      r.lastPts = pts;
      r.lastDts = dts;
      if (!r.started) {
        if (payload[0] >> 4 !== 1 || !this.boundaries.has(dts)) {
          r.skipped++;
          return;
        }
        r.started = true;
      }
      r.frames++;
      r.anyFrame = true;
      if (!r.sawFrame) {
        r.sawFrame = true;
        if (!this.flowing && this.rungs.every((x) => x.sawFrame)) {
          this.flowing = true;
          try {
            this.o.onFlowing?.();
          } catch {
            this.callbackErrors++;
          }
        }
      }
      this.prune();
    } else if (type === AUDIO && payload.length >= 2 && payload[1] !== 0) {
      if (!r.started) {
        r.pendingAudio.push({ ts, payload });
        if (r.pendingAudio.length > PRE_KEY_AUDIO) {
          r.pendingAudio.shift();
          r.skipped++;
        }
        return;
      }
      r.anyFrame = true;
    } else if (!r.anyFrame && this.headerTs !== undefined) {
      // Metadata and sequence headers ffmpeg writes at 0 before any frame: stamped like the source's first message.
      outTs = this.headerTs;
    }
    this.emit(r, type, outTs, payload);
    if (r.pendingAudio.length > 0 && r.started) {
      // Audio older than the keyframe passes only when the rung starts at the first frame fed (as the source's
      // first segment has the audio ahead of its first video frame); else it belongs to an earlier segment.
      const all = outTs === this.firstFedDts;
      for (const a of r.pendingAudio) {
        if (all || a.ts >= outTs) this.emit(r, AUDIO, a.ts, a.payload);
        else r.skipped++;
      }
      r.pendingAudio = [];
      r.anyFrame = true;
    }
  }

  private emit(r: RungState, type: number, ts: number, payload: Buffer): void {
    try {
      this.o.onMessage(r.name, type, ts >>> 0, payload);
    } catch {
      this.callbackErrors++;
    }
  }

  /** The DTS of the source frame whose PTS rank this rung frame has (its own PTS if the source has no such frame). */
  private sourceDts(r: RungState, pts: number): number {
    const a = this.srcPts;
    let lo = Math.max(0, r.cursor + 1 - this.base);
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid] < pts) lo = mid + 1;
      else hi = mid;
    }
    if (lo < a.length && a[lo] === pts && lo < this.srcDts.length) {
      const dts = this.srcDts[lo];
      r.cursor = lo + this.base;
      if (dts <= pts && dts > r.lastDts) return dts;
    }
    return Math.max(pts, r.lastDts + 1);
  }

  /** Forgets source frames every rung is past. */
  private prune(): void {
    let cursor = Infinity;
    for (const r of this.rungs) cursor = Math.min(cursor, r.cursor);
    const n = cursor - this.base; // ranks ≤ cursor are done; keep the last one
    if (n < 256) return;
    this.srcPts.splice(0, n);
    this.srcWall.splice(0, n);
    this.srcDts.splice(0, n);
    this.base += n;
  }
}
