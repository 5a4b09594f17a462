import type { HlsConfig } from 'hls.js';
import type { EngineKind } from './engines/engine';
import type { KeyframePlayer } from './player';
import { createRecordingPlayer, type RecordingPlayer, type RecordingPlayerState } from './recording-player';
import { parseTimeline, planSeek, timelineStartMs, wallAt, type Timeline } from './timeline';

/**
 * Live rewind (DVR) and replays around one `<video>`: which player runs, the live one (player.ts, the live
 * playlist with the low-latency tuning, exactly as without recording) or the recording one
 * (recording-player.ts, the recording's playlist), and the seek bar over them.
 *
 * - `live`: the live player. If the session is recorded, the bar spans the whole session so far, on the wall
 *   clock; seeking back stops the live player and plays the recording from the mapped position.
 * - `rewind`: the recording's growing `EVENT` playlist. "Go live" stops it and starts a live player again.
 * - `replay`: a complete recording (`VOD`, `#EXT-X-ENDLIST`), with a seek bar over its media time.
 *
 * A viewer who never rewinds costs nothing here: the live player starts as it always did, and the recording's
 * playlist is fetched once (for the bar's start) only when the page learns the session is recorded.
 */

export type WatchMode = 'live' | 'rewind' | 'replay';

export interface SeekBar {
  /** `session`: seconds since the recording's start on the wall clock (live, rewind); `media`: a replay's time. */
  readonly kind: 'session' | 'media';
  readonly max: number;
  readonly value: number;
  /** The wall clock of 0 (session bars). */
  readonly startMs?: number;
}

export interface TimeshiftOptions {
  readonly video: HTMLVideoElement;
  readonly engine: Exclude<EngineKind, 'none'>;
  /** Starts the live player (the page's, with its callbacks); absent: a replay-only page. */
  readonly startLive?: () => KeyframePlayer;
  readonly recordingHlsConfig?: Partial<HlsConfig>;
  readonly pdtOffsetSeconds: number;
  /** The mode, the recording player's state or the recording's timeline changed. */
  readonly onChange?: () => void;
  readonly onAutoplayMuted?: () => void;
  readonly onLog?: (message: string, data?: Record<string, unknown>) => void;
  readonly now?: () => number;
}

export interface Timeshift {
  readonly mode: WatchMode;
  readonly live: KeyframePlayer | null;
  readonly recording: RecordingPlayer | null;
  readonly recordingState: RecordingPlayerState | undefined;
  /** The live session's recording playlist, when the page knows it. */
  readonly liveRecordingSrc: string | undefined;
  /** The live session is recorded (or not, or no longer): rewind becomes possible. */
  setLiveRecording(src: string | undefined): void;
  /** Starts the live player (a live page calls this first; "Go live" too). */
  startLive(): void;
  /** Plays a recording from the start: a replay, or the rewind of a session still live. */
  playRecording(src: string): void;
  /** The seek bar now; null when there is nothing to seek over (live and not recorded, or not playing). */
  bar(): SeekBar | null;
  /** Seeks to `value` on the bar. */
  seek(value: number): Promise<void>;
  /** Back to the live edge: the live playlist, with the live tuning. */
  goLive(): void;
  /** Seconds between capture and the frame on screen (PDT-based, corrected); null when unknown or a replay. */
  behindLive(): number | null;
  destroy(): void;
}

export function createTimeshift(opts: TimeshiftOptions): Timeshift {
  const now = opts.now ?? Date.now;
  const log = opts.onLog ?? (() => undefined);
  let mode: WatchMode = 'live';
  let live: KeyframePlayer | null = null;
  let recording: RecordingPlayer | null = null;
  let liveRecordingSrc: string | undefined;
  /** The live session's recording as last fetched (for the bar's start, and to map a seek from live). */
  let liveRecording: Timeline | undefined;
  let destroyed = false;

  const changed = () => {
    if (!destroyed) opts.onChange?.();
  };

  async function fetchTimeline(src: string): Promise<Timeline | undefined> {
    try {
      const res = await fetch(src, { cache: 'no-store', credentials: 'omit' });
      return res.ok ? parseTimeline(await res.text()) : undefined;
    } catch {
      return undefined;
    }
  }

  function startRecording(src: string, position: number, as: WatchMode): void {
    live?.destroy();
    live = null;
    recording?.destroy();
    mode = as;
    log('recording', { src, position, mode: as });
    const player = createRecordingPlayer({
      video: opts.video,
      src,
      engine: opts.engine,
      startPosition: position,
      hlsConfig: opts.recordingHlsConfig,
      onAutoplayMuted: opts.onAutoplayMuted,
      onLog: opts.onLog,
      onStateChange: () => changed(),
      onTimeline: (t) => {
        if (recording !== player) return;
        if (src === liveRecordingSrc) liveRecording = t;
        // The session ended while this viewer was behind: what they watch is now its replay.
        const next = t.ended ? 'replay' : opts.startLive ? 'rewind' : mode;
        if (next !== mode) mode = next;
        changed();
      },
    });
    recording = player;
    changed();
  }

  function startLive(): void {
    recording?.destroy();
    recording = null;
    mode = 'live';
    live?.destroy();
    live = opts.startLive ? opts.startLive() : null;
    changed();
  }

  function sessionStartMs(): number | undefined {
    const t = (recording && recording.src === liveRecordingSrc ? recording.timeline() : undefined) ?? liveRecording;
    return t ? timelineStartMs(t) : undefined;
  }

  const api: Timeshift = {
    get mode() {
      return mode;
    },
    get live() {
      return live;
    },
    get recording() {
      return recording;
    },
    get recordingState() {
      return recording?.state;
    },
    get liveRecordingSrc() {
      return liveRecordingSrc;
    },
    setLiveRecording(src) {
      if (src === liveRecordingSrc) return;
      liveRecordingSrc = src;
      liveRecording = undefined;
      changed();
      if (src) {
        void fetchTimeline(src).then((t) => {
          if (liveRecordingSrc !== src || !t) return;
          liveRecording ??= t;
          changed();
        });
      }
    },
    startLive,
    playRecording(src) {
      startRecording(src, 0, 'replay');
    },
    bar() {
      const t = now();
      if (mode === 'replay') {
        const tl = recording?.timeline();
        const max = tl?.durationSeconds ?? (Number.isFinite(opts.video.duration) ? opts.video.duration : 0);
        if (!max) return null;
        return { kind: 'media', max, value: Math.min(max, opts.video.currentTime) };
      }
      const startMs = sessionStartMs();
      if (startMs === undefined) return null;
      const max = Math.max(0, (t - startMs) / 1000);
      let at: number | undefined;
      if (mode === 'live') {
        const pdt = live?.state === 'live' ? live.pdtLatency() : undefined;
        if (pdt === undefined) return null;
        at = pdt === null ? undefined : t - pdt * 1000;
      } else if (recording) {
        const tl = recording.timeline();
        at = recording.playingDate() ?? (tl ? wallAt(tl, opts.video.currentTime) : undefined);
      }
      const value = at === undefined ? max : Math.min(max, Math.max(0, (at - startMs) / 1000));
      return { kind: 'session', max, value, startMs };
    },
    async seek(value) {
      if (!Number.isFinite(value)) return;
      if (mode === 'replay') {
        recording?.seek(value);
        return;
      }
      const src = liveRecordingSrc ?? recording?.src;
      const startMs = sessionStartMs();
      if (!src || startMs === undefined) return;
      const targetMs = startMs + value * 1000;
      // In rewind, hls.js keeps the recording's playlist fresh; from live, look at it now.
      // (The native engine's timeline is the one look it took at the start: look again.)
      const timeline = mode === 'rewind' && recording && opts.engine !== 'native' ? recording.timeline() : await fetchTimeline(src);
      if (destroyed) return;
      if (timeline && src === liveRecordingSrc) liveRecording = timeline;
      const plan = planSeek(targetMs, { nowMs: now(), recording: timeline });
      log('seek', { value, plan: plan.kind, ...(plan.kind === 'recording' ? { position: plan.position } : {}) });
      if (plan.kind === 'live') {
        if (mode === 'live') live?.goLive();
        else startLive();
        return;
      }
      if (mode === 'rewind' && recording && recording.src === src) recording.seek(plan.position);
      else startRecording(src, plan.position, timeline?.ended ? 'replay' : 'rewind');
    },
    goLive() {
      if (mode === 'live') live?.goLive();
      else if (opts.startLive) startLive();
    },
    behindLive() {
      if (mode === 'live') return live?.latency() ?? null;
      if (mode !== 'rewind' || !recording) return null;
      const date = recording.playingDate();
      return date === undefined || !Number.isFinite(date) ? null : (now() - date) / 1000 + opts.pdtOffsetSeconds;
    },
    destroy() {
      destroyed = true;
      live?.destroy();
      recording?.destroy();
      live = null;
      recording = null;
    },
  };

  return api;
}
