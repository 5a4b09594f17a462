import { Events, type HlsConfig, type LevelLoadedData } from 'hls.js';
import type { EngineAdapter, EngineError, EngineKind } from './engines/engine';
import { createHlsJsEngine } from './engines/hlsjs';
import { createNativeEngine } from './engines/native';
import { backoffMs } from './playlist';
import { parseTimeline, timelineFromFragments, type Timeline } from './timeline';
import { recordingTuning } from './tuning';

/**
 * Plays a recording's playlist (docs/recording.md) into the `<video>`: its growing `EVENT` playlist (live
 * rewind, from a position the page mapped from the wall clock) or its `VOD` one (a replay, from the start).
 * Simpler than the live player: a recording is there or it is not, so there is no waiting for a publish. A
 * fatal network error re-attaches at the same position with backoff (a few times), a fatal media error first
 * tries hls.js's recovery.
 */

export type RecordingPlayerState = 'starting' | 'playing' | 'ended' | 'error';

export interface RecordingPlayerOptions {
  readonly video: HTMLVideoElement;
  /** The recording's `index.m3u8` (with the playback token of a private channel). */
  readonly src: string;
  readonly engine: Exclude<EngineKind, 'none'>;
  /** Media seconds to start at. */
  readonly startPosition: number;
  readonly hlsConfig?: Partial<HlsConfig>;
  readonly onStateChange?: (state: RecordingPlayerState) => void;
  /** The playlist was (re)loaded: its timeline (hls.js parses it; the native engine fetches it once). */
  readonly onTimeline?: (timeline: Timeline) => void;
  readonly onAutoplayMuted?: () => void;
  readonly onLog?: (message: string, data?: Record<string, unknown>) => void;
}

export interface RecordingPlayerStats {
  readonly state: RecordingPlayerState;
  readonly src: string;
  readonly errors: number;
  readonly retries: number;
  readonly lastError?: string;
  /** The HTTP status of the last failed load. */
  readonly lastStatus?: number;
  readonly ended: boolean;
  readonly durationSeconds?: number;
}

export interface RecordingPlayer {
  readonly state: RecordingPlayerState;
  readonly src: string;
  readonly engine: EngineAdapter | null;
  /** The newest timeline seen. */
  timeline(): Timeline | undefined;
  /** Epoch ms of the frame on screen, from EXT-X-PROGRAM-DATE-TIME. */
  playingDate(): number | undefined;
  /** Seeks within the recording (media seconds). */
  seek(seconds: number): void;
  stats(): RecordingPlayerStats;
  destroy(): void;
}

/** Fatal errors retried before the player gives up and says `error`. */
export const RECORDING_MAX_RETRIES = 4;
/** HTTP answers that end the attempt at once. */
const REFUSED = new Set([400, 401, 403, 404, 410]);

export function createRecordingPlayer(opts: RecordingPlayerOptions): RecordingPlayer {
  const { video, src } = opts;
  const log = opts.onLog ?? (() => undefined);
  let state: RecordingPlayerState = 'starting';
  let engine: EngineAdapter | null = null;
  let timeline: Timeline | undefined;
  let errors = 0;
  let retries = 0;
  let mediaRecoveries = 0;
  let lastError: string | undefined;
  let lastStatus: number | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let destroyed = false;
  let pendingSeek: number | undefined;
  let firstTime: number | undefined;

  const setState = (next: RecordingPlayerState) => {
    if (next === state || destroyed) return;
    state = next;
    log('recording state', { state });
    opts.onStateChange?.(next);
  };

  const setTimeline = (t: Timeline | undefined) => {
    if (!t || destroyed) return;
    timeline = t;
    opts.onTimeline?.(t);
  };

  function play(): void {
    video.play()?.catch((err: DOMException) => {
      if (err?.name === 'NotAllowedError' && !video.muted) {
        video.muted = true;
        opts.onAutoplayMuted?.();
        video.play().catch(() => undefined);
      }
    });
  }

  function attach(position: number): void {
    engine?.destroy();
    firstTime = undefined;
    const e =
      opts.engine === 'native'
        ? createNativeEngine()
        : createHlsJsEngine({ tuning: recordingTuning(position), overrides: opts.hlsConfig, alignReloads: false });
    engine = e;
    if (opts.engine === 'native') {
      pendingSeek = position;
      void fetch(src, { cache: 'no-store', credentials: 'omit' })
        .then((r) => (r.ok ? r.text() : ''))
        .then((text) => engine === e && setTimeline(parseTimeline(text)))
        .catch(() => undefined);
    }
    e.attach(video, src, {
      ready: () => {
        if (engine === e) play();
      },
      endlist: () => undefined,
      error: (err) => {
        if (engine === e) onError(err);
      },
    });
    e.hls?.on(Events.LEVEL_LOADED, (_ev, data: LevelLoadedData) => {
      if (engine !== e) return;
      const d = data.details;
      setTimeline(
        timelineFromFragments(d.fragments, {
          ended: !d.live,
          targetSeconds: d.targetduration,
          type: d.type === 'EVENT' || d.type === 'VOD' ? d.type : undefined,
        }),
      );
    });
  }

  function onError(err: EngineError): void {
    errors++;
    lastError = err.label;
    if (err.status !== undefined) lastStatus = err.status;
    if (!err.fatal && err.kind !== 'element') return;
    log('recording fatal error', { details: err.details });
    if (err.kind === 'media' && mediaRecoveries < 2) {
      mediaRecoveries++;
      engine?.recoverMediaError(mediaRecoveries === 2);
      return;
    }
    // Refused (a private channel's recording without a valid token) or not there: retrying cannot help.
    if (retries >= RECORDING_MAX_RETRIES || (err.status !== undefined && REFUSED.has(err.status))) {
      engine?.destroy();
      engine = null;
      setState('error');
      return;
    }
    const at = video.currentTime || pendingSeek || opts.startPosition;
    const delay = backoffMs(retries++);
    setState('starting');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      if (!destroyed) attach(at);
    }, delay);
  }

  const onLoadedMetadata = () => {
    if (pendingSeek !== undefined && pendingSeek > 0) video.currentTime = pendingSeek;
    pendingSeek = undefined;
  };
  const onTimeUpdate = () => {
    if (state !== 'starting' || video.paused || video.seeking || video.readyState < 3) return;
    if (firstTime === undefined) firstTime = video.currentTime;
    else if (video.currentTime - firstTime > 0.1) {
      retries = 0;
      mediaRecoveries = 0;
      setState('playing');
    }
  };
  const onSeeking = () => {
    firstTime = undefined;
    if (state === 'ended') setState('starting');
  };
  const onEnded = () => setState('ended');
  video.addEventListener('loadedmetadata', onLoadedMetadata);
  video.addEventListener('timeupdate', onTimeUpdate);
  video.addEventListener('seeking', onSeeking);
  video.addEventListener('ended', onEnded);

  attach(opts.startPosition);

  return {
    get state() {
      return state;
    },
    src,
    get engine() {
      return engine;
    },
    timeline: () => timeline,
    playingDate: () => engine?.playingDate(),
    seek(seconds: number) {
      if (!Number.isFinite(seconds)) return;
      video.currentTime = Math.max(0, seconds);
      if (video.paused) play();
    },
    stats() {
      return {
        state,
        src,
        errors,
        retries,
        ...(lastError ? { lastError } : {}),
        ...(lastStatus !== undefined ? { lastStatus } : {}),
        ended: timeline?.ended ?? false,
        ...(timeline ? { durationSeconds: timeline.durationSeconds } : {}),
      };
    },
    destroy() {
      destroyed = true;
      clearTimeout(retryTimer);
      engine?.destroy();
      engine = null;
      video.removeEventListener('loadedmetadata', onLoadedMetadata);
      video.removeEventListener('timeupdate', onTimeUpdate);
      video.removeEventListener('seeking', onSeeking);
      video.removeEventListener('ended', onEnded);
    },
  };
}
