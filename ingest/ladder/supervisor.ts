/**
 * The supervisor of one publish's ladder (docs/ladder.md, "Faults"): owns its `LadderTranscoder`, keeps the
 * latest sequence headers and `onMetaData` so that a restarted ffmpeg gets them first (then video from the next
 * keyframe), and restarts ffmpeg when it exits, stops reading, or falls behind real time: kill, `down` (reason),
 * restart after a backoff, `up` when every rung's output flows again. At most `maxRestarts` restarts within
 * `restartWindowMs`; one more fault is final (`failed`) for the publish.
 *
 * The source path never depends on it: `push()` never throws or blocks, and callbacks that throw are counted.
 */
import { newMediaUnit, parseAudioTag, parseVideoTag } from '../packager/flv.js';
import type { LadderOutput } from './args.js';
import { type LadderExit, type LadderFault, LadderTranscoder, type LadderTranscoderOptions, type SpawnFn } from './transcoder.js';

export type LadderState = 'starting' | 'up' | 'down' | 'failed';

export interface LadderStateEvent {
  readonly state: LadderState;
  /** `down` and `failed`: what happened (`exited with code 1: …`, `behind: …`, `input-queue-full: …`). */
  readonly reason?: string;
  /** Restarts so far in this publish. */
  readonly restarts: number;
}

export interface LadderSupervisorOptions {
  readonly outputs: readonly LadderOutput[];
  readonly segmentSeconds: number;
  /** Source timestamp (ms) of the segment grid's origin. @default the first video keyframe pushed */
  readonly gridOriginMs?: number;
  readonly onMessage: (rung: string, type: number, timestamp: number, payload: Buffer) => void;
  readonly onState: (event: LadderStateEvent) => void;
  /** Restarts allowed within `restartWindowMs`; the next fault is `failed`. @default 3 */
  readonly maxRestarts?: number;
  /** @default 60000 */
  readonly restartWindowMs?: number;
  /** Backoff before the first restart of a window, doubling for each restart in the window, ms. @default 500 */
  readonly backoffMs?: number;
  /** @default 8000 */
  readonly maxBackoffMs?: number;
  readonly ffmpegPath?: string;
  readonly preset?: string;
  readonly lagLimitMs?: number;
  readonly lagSustainMs?: number;
  readonly maxInputBytes?: number;
  /** The packager's jump threshold, mirrored to follow its grid across timestamp jumps. @default 2000 */
  readonly jumpThresholdMs?: number;
  readonly now?: () => number;
  readonly spawn?: SpawnFn;
  readonly env?: NodeJS.ProcessEnv;
}

const VIDEO = 9;
const AUDIO = 8;
const SCRIPT = 18;

export class LadderSupervisor {
  private readonly o: LadderSupervisorOptions;
  private readonly now: () => number;
  private readonly unit = newMediaUnit();
  private current: LadderTranscoder | undefined;
  private stateNow: LadderState | 'idle' | 'ended' = 'idle';
  private restartTimes: number[] = [];
  private restarts = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private callbackErrors = 0;
  /** Processes started (1 + restarts); for tests and logs. */
  spawned = 0;

  // what a restarted ffmpeg needs
  private metadata: Buffer | undefined;
  private videoConfig: Buffer | undefined;
  private audioConfig: Buffer | undefined;
  private lastTs = 0;

  // the source packager's grid, followed across jumps
  private gridOrigin: number | undefined;
  private originPending = false;
  private maxTs: number | undefined;
  private readonly lastTrackTs: Record<number, number | undefined> = {};

  constructor(options: LadderSupervisorOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
    this.gridOrigin = options.gridOriginMs;
    this.originPending = options.gridOriginMs === undefined;
    if (options.outputs.length === 0) return; // nothing to transcode: no process, no state
    this.startTranscoder();
  }

  /** The current state; `idle` for an empty ladder, `ended` after `end()`/`close()`. */
  get state(): LadderState | 'idle' | 'ended' {
    return this.stateNow;
  }

  /** The running ffmpeg's pid (once it has its first keyframe). */
  get pid(): number | undefined {
    return this.current?.pid;
  }

  /** The current transcoder's lag (0 while down). */
  lagMs(): number {
    return this.current?.lagMs() ?? 0;
  }

  stats() {
    return {
      state: this.stateNow,
      restarts: this.restarts,
      spawned: this.spawned,
      callbackErrors: this.callbackErrors,
      transcoder: this.current?.stats(),
    };
  }

  /** Every source RTMP message (type 8/9/18, raw timestamp, FLV tag body). Never throws. */
  push(type: number, timestamp: number, payload: Buffer): void {
    if (this.closed || this.o.outputs.length === 0) return;
    try {
      this.observe(type, timestamp >>> 0, payload);
    } catch {
      // input the packager refuses: not ours to judge; it is still passed on (the transcoder skips it)
    }
    try {
      this.current?.push(type, timestamp, payload);
    } catch {
      this.callbackErrors++;
    }
  }

  /** The publish ended: ffmpeg finishes what it has; no restart after. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.stateNow = 'ended';
    if (this.timer) clearTimeout(this.timer);
    this.current?.end();
  }

  /** Stops at once (kills ffmpeg). */
  close(): void {
    this.closed = true;
    this.stateNow = 'ended';
    if (this.timer) clearTimeout(this.timer);
    this.current?.kill();
  }

  private observe(type: number, ts: number, payload: Buffer): void {
    if (type === SCRIPT) {
      this.metadata = payload;
      return;
    }
    if (type !== VIDEO && type !== AUDIO) return;
    const u = this.unit;
    if (type === VIDEO) parseVideoTag(payload, u);
    else parseAudioTag(payload, u);
    if (u.kind === 'video-config') this.videoConfig = payload;
    else if (u.kind === 'audio-config') this.audioConfig = payload;
    if (u.kind !== 'video-frame' && u.kind !== 'audio-frame') return;
    this.lastTs = ts;
    // The packager's jump rule: a step beyond the threshold from the highest timestamp, or back within a track.
    const J = this.o.jumpThresholdMs ?? 2000;
    const last = this.lastTrackTs[type];
    if (this.maxTs !== undefined && (ts - this.maxTs > J || ts < this.maxTs - J || (last !== undefined && ts < last - 100))) {
      this.originPending = true;
      this.maxTs = ts;
      this.lastTrackTs[VIDEO] = undefined;
      this.lastTrackTs[AUDIO] = undefined;
    }
    if (this.maxTs === undefined || ts > this.maxTs) this.maxTs = ts;
    this.lastTrackTs[type] = ts;
    if (u.kind === 'video-frame' && this.originPending && (u.key || this.gridOrigin !== undefined)) {
      this.gridOrigin = ts;
      this.originPending = false;
    }
  }

  private setState(state: LadderState, reason?: string): void {
    if (this.stateNow === state && state !== 'down') return;
    this.stateNow = state;
    try {
      this.o.onState({ state, ...(reason ? { reason } : {}), restarts: this.restarts });
    } catch {
      this.callbackErrors++;
    }
  }

  private startTranscoder(): void {
    this.spawned++;
    let gone = false;
    const opts: LadderTranscoderOptions = {
      outputs: this.o.outputs,
      segmentSeconds: this.o.segmentSeconds,
      ...(this.gridOrigin !== undefined ? { gridOriginMs: this.gridOrigin } : {}),
      onMessage: this.o.onMessage,
      onFlowing: () => {
        if (!gone && this.current === t && !this.closed) this.setState('up');
      },
      onFault: (fault: LadderFault, detail) => {
        if (gone || this.current !== t || this.closed) return;
        gone = true;
        t.kill();
        this.fault(`${fault}: ${detail.message}`);
      },
      onExit: (exit: LadderExit) => {
        if (gone || this.current !== t || this.closed || exit.expected) return;
        gone = true;
        this.fault(exitReason(exit));
      },
      ...(this.o.ffmpegPath ? { ffmpegPath: this.o.ffmpegPath } : {}),
      ...(this.o.preset ? { preset: this.o.preset } : {}),
      ...(this.o.lagLimitMs !== undefined ? { lagLimitMs: this.o.lagLimitMs } : {}),
      ...(this.o.lagSustainMs !== undefined ? { lagSustainMs: this.o.lagSustainMs } : {}),
      ...(this.o.maxInputBytes !== undefined ? { maxInputBytes: this.o.maxInputBytes } : {}),
      ...(this.o.jumpThresholdMs !== undefined ? { jumpThresholdMs: this.o.jumpThresholdMs } : {}),
      ...(this.o.now ? { now: this.o.now } : {}),
      ...(this.o.spawn ? { spawn: this.o.spawn } : {}),
      ...(this.o.env ? { env: this.o.env } : {}),
    };
    const t = new LadderTranscoder(opts);
    this.current = t;
    this.setState('starting');
    // A restart: the headers first (stamped now), then the transcoder waits for the next keyframe by itself.
    if (this.spawned > 1) {
      if (this.metadata) t.push(SCRIPT, this.lastTs, this.metadata);
      if (this.videoConfig) t.push(VIDEO, this.lastTs, this.videoConfig);
      if (this.audioConfig) t.push(AUDIO, this.lastTs, this.audioConfig);
    }
  }

  private fault(reason: string): void {
    const now = this.now();
    const windowMs = this.o.restartWindowMs ?? 60_000;
    this.restartTimes = this.restartTimes.filter((t) => now - t < windowMs);
    const max = this.o.maxRestarts ?? 3;
    if (this.restartTimes.length >= max) {
      this.current = undefined;
      this.closed = true;
      this.setState('failed', `${reason} (after ${this.restartTimes.length} restarts in ${Math.round(windowMs / 1000)} s)`);
      return;
    }
    this.setState('down', reason);
    const backoff = Math.min(this.o.maxBackoffMs ?? 8000, (this.o.backoffMs ?? 500) * 2 ** this.restartTimes.length);
    this.restartTimes.push(now);
    this.restarts++;
    this.current = undefined;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.startTranscoder();
    }, backoff);
  }
}

function exitReason(exit: LadderExit): string {
  if (exit.spawnError) return `ffmpeg did not start: ${exit.spawnError}`;
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const tail = exit.stderr.trim().split('\n').slice(-2).join(' | ').slice(-300);
  return `ffmpeg ${how}${tail ? `: ${tail}` : ''}`;
}
