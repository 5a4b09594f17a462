import Hls, { type HlsConfig } from 'hls.js';
import type { AlignedLoaderStats } from './aligned-loader';
import { chooseEngine, type EngineAdapter, type EngineHooks, type EngineKind, type EngineWanted } from './engines/engine';
import { createHlsJsEngine } from './engines/hlsjs';
import { createNativeEngine } from './engines/native';
import { classifyPlaylist, probeVariantUrl, type ProbeResult } from './playlist';
import { heightLabel, type QualityChoice, type QualityStats } from './qualities';
import { DEFAULT_PDT_OFFSET_SECONDS, selectTuning, type TuningName } from './tuning';
import {
  initialWatchdog,
  reduceWatchdog,
  TICK_MS,
  type LivePlaylist,
  type MediaSnapshot,
  type PlayerState,
  type WatchdogAction,
  type WatchdogEvent,
} from './watchdog';

/**
 * The Keyframe player core: one `<video>`, one stream URL. The decisions (offline/starting/live/ended,
 * recovery, restarts, the stall watchdog) are the pure reducer in watchdog.ts; the engines are adapters in
 * engines/ (hls.js, native HLS), chosen by `chooseEngine`; the hls.js tuning is `selectTuning` (tuning.ts).
 * This file is the glue: it turns the `<video>`, the engine, timers and playlist probes into watchdog events,
 * and carries out the actions the watchdog returns.
 */

export type { PlayerState } from './watchdog';
/** The engine a player uses for its lifetime (engines/engine.ts). */
export type PlayerEngine = EngineKind;

export interface PlayerOptions {
  readonly video: HTMLVideoElement;
  /** The stream's `index.m3u8`. */
  readonly src: string;
  /** Overrides merged over the selected tuning (tuning.ts selectTuning). */
  readonly hlsConfig?: Partial<HlsConfig>;
  /** Added to the PDT-based latency (see tuning.ts). */
  readonly pdtOffsetSeconds?: number;
  /** `auto` (default): hls.js where MSE exists, else native HLS if the browser plays it. */
  readonly engine?: EngineWanted;
  /** Playlist poll interval while offline or ended. */
  readonly pollMs?: number;
  /**
   * Time playlist reloads to when the next segment is due (aligned-loader.ts). Default true; false uses a
   * plain fetch loader on hls.js's fixed beat.
   */
  readonly alignReloads?: boolean;
  /** Sync distance beyond one target duration (tuning.ts LIVE_SYNC_MARGIN_SECONDS). */
  readonly syncMarginSeconds?: number;
  /** The clock (epoch ms) for the watchdog and the latency readout; Date.now by default. */
  readonly now?: () => number;
  /** The quality to play on a ladder channel: `auto` (default, ABR) or a quality's label (qualities.ts). */
  readonly quality?: QualityChoice;
  readonly onStateChange?: (state: PlayerState, previous: PlayerState) => void;
  /** Autoplay with sound was refused, so the player muted itself. */
  readonly onAutoplayMuted?: () => void;
  readonly onLog?: (message: string, data?: Record<string, unknown>) => void;
}

export interface PlayerStats {
  readonly state: PlayerState;
  readonly engine: PlayerEngine;
  readonly session?: string;
  readonly errors: number;
  readonly fatalErrors: number;
  readonly mediaRecoveries: number;
  readonly restarts: number;
  readonly stalls: number;
  /** Answers to the playlist poll while no engine runs. */
  readonly probes: number;
  /** What the latest of those answers said. */
  readonly lastProbe?: ProbeResult['kind'];
  readonly history: ReadonlyArray<{ readonly state: PlayerState; readonly at: number }>;
  readonly lastError?: string;
  /** The aligned playlist loader of the current engine (hls.js only). */
  readonly reloads?: Readonly<AlignedLoaderStats>;
  /** The hls.js tuning of the current engine: `ll-hls` when the playlist has parts (tuning.ts selectTuning). */
  readonly tuning?: TuningName;
  /** The qualities offered, the one playing, Auto or not, and the switches (qualities.ts). */
  readonly quality: QualityStats;
  /** Playback stalls: the picture stopped for want of data (`waiting`) until it moved again. */
  readonly playbackStalls: PlaybackStalls;
}

/**
 * Stalls as a viewer sees them: from a `waiting` event while playing until the picture moves again (`playing`,
 * or `currentTime` advancing). The watchdog's `stalls` counts only the 4 s ones it probes the playlist for.
 */
export interface PlaybackStalls {
  readonly count: number;
  readonly totalMs: number;
  readonly longestMs: number;
  /** How long the stall in progress has lasted, if the picture is stalled now. */
  readonly ongoingMs?: number;
  /** The latest stalls, oldest first: when each began (epoch ms) and how long it lasted. */
  readonly recent: ReadonlyArray<{ readonly at: number; readonly ms: number }>;
}

export interface KeyframePlayer {
  readonly state: PlayerState;
  readonly engine: PlayerEngine;
  readonly hls: Hls | null;
  readonly video: HTMLVideoElement;
  readonly pdtOffsetSeconds: number;
  /** Seconds behind live: PDT-based, corrected by pdtOffsetSeconds. null unless live. */
  latency(): number | null;
  /** Seconds behind live from EXT-X-PROGRAM-DATE-TIME alone (reads low by the ingest's PDT lag). */
  pdtLatency(): number | null;
  /** hls.js's own estimate: distance from the playlist's live edge (hls.js only). */
  edgeLatency(): number | null;
  stats(): PlayerStats;
  /** The qualities and the one playing (also in stats()). */
  quality(): QualityStats;
  /** Pins a quality by label, or `auto` for ABR. Kept across engine restarts and new publishes. */
  setQuality(choice: QualityChoice): void;
  /** Jump to the live sync point. */
  goLive(): void;
  destroy(): void;
}

/** The engine this browser would use for `wanted` (see chooseEngine). */
export function pickEngine(video: HTMLVideoElement, wanted: EngineWanted = 'auto'): PlayerEngine {
  return chooseEngine({ mse: Hls.isSupported(), nativeHls: video.canPlayType('application/vnd.apple.mpegurl') !== '' }, wanted);
}

/** Starts a player on `opts.video`: it waits for the stream, plays it, and follows it through ends and restarts. */
export function createPlayer(opts: PlayerOptions): KeyframePlayer {
  const { video, src } = opts;
  const now = opts.now ?? Date.now;
  const pdtOffsetSeconds = opts.pdtOffsetSeconds ?? DEFAULT_PDT_OFFSET_SECONDS;
  const kind = pickEngine(video, opts.engine);
  const log = opts.onLog ?? (() => undefined);

  let wd = initialWatchdog({ engine: kind, pollMs: opts.pollMs ?? 1000 }, now(), Math.floor(Math.random() * 2 ** 32));
  let engine: EngineAdapter | null = null;
  let reloads: Readonly<AlignedLoaderStats> | undefined;
  let tuningName: TuningName | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let choice: QualityChoice = opts.quality ?? 'auto';

  // Events raised while actions run (an engine that is ready at once, a callback that destroys the player)
  // wait in the queue, so each reduction's actions run in order and see its state.
  const queue: WatchdogEvent[] = [];
  let dispatching = false;
  function dispatch(event: WatchdogEvent): void {
    queue.push(event);
    if (dispatching) return;
    dispatching = true;
    try {
      for (let e = queue.shift(); e; e = queue.shift()) {
        const step = reduceWatchdog(wd, e, now());
        wd = step.state;
        for (const action of step.actions) run(action);
      }
    } finally {
      dispatching = false;
    }
  }

  function run(a: WatchdogAction): void {
    switch (a.type) {
      case 'state':
        opts.onStateChange?.(a.state, a.previous);
        break;
      case 'log':
        log(a.message, a.data);
        break;
      case 'stop':
        clearTimeout(timer);
        endStall();
        hasPlayed = false;
        engine?.destroy();
        engine = null;
        break;
      case 'setTimer':
        clearTimeout(timer);
        timer = setTimeout(() => dispatch({ type: 'timer', gen: a.gen }), a.ms);
        break;
      case 'probe':
        void probe().then((result) => dispatch({ type: 'probed', gen: a.gen, purpose: a.purpose, result, media: snapshot() }));
        break;
      case 'attach':
        engine = createEngine(a.playlist);
        reloads = engine.reloads;
        engine.attach(video, src, hooksFor(a.gen));
        break;
      case 'play':
        play();
        break;
      case 'recoverMedia':
        engine?.recoverMediaError(a.swapAudioCodec);
        break;
    }
  }

  function createEngine(playlist: LivePlaylist): EngineAdapter {
    if (kind === 'native') return createNativeEngine({ now });
    const tuning = selectTuning(playlist, opts.hlsConfig, opts.syncMarginSeconds);
    tuningName = tuning.name;
    return createHlsJsEngine({
      tuning: tuning.config,
      overrides: opts.hlsConfig,
      alignReloads: opts.alignReloads !== false && tuning.alignReloads,
      quality: () => choice,
      now,
    });
  }

  function hooksFor(gen: number): EngineHooks {
    return {
      ready: () => dispatch({ type: 'ready', gen }),
      endlist: () => dispatch({ type: 'endlist', gen, media: snapshot() }),
      error: (error) => dispatch({ type: 'engineError', gen, error }),
    };
  }

  async function probe(): Promise<ProbeResult> {
    try {
      const res = await fetch(src, { cache: 'no-store', credentials: 'omit' });
      const text = res.status === 200 ? await res.text() : '';
      // A ladder channel's multivariant playlist says nothing of the stream's state, target duration or parts:
      // its first variant (the source) does.
      const variant = probeVariantUrl(text, src);
      if (!variant) return classifyPlaylist(res.status, text);
      const media = await fetch(variant, { cache: 'no-store', credentials: 'omit' });
      return classifyPlaylist(media.status, media.status === 200 ? await media.text() : '');
    } catch {
      return { kind: 'error' };
    }
  }

  function play(): void {
    const p = video.play();
    p?.catch((err: DOMException) => {
      if (err?.name === 'NotAllowedError' && !video.muted) {
        video.muted = true;
        opts.onAutoplayMuted?.();
        video.play().catch(() => undefined);
      }
    });
  }

  function bufferedAhead(): number {
    const b = video.buffered;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= video.currentTime + 0.1 && b.end(i) >= video.currentTime) return b.end(i) - video.currentTime;
    }
    return 0;
  }

  function snapshot(): MediaSnapshot {
    return {
      currentTime: video.currentTime,
      paused: video.paused,
      seeking: video.seeking,
      ended: video.ended,
      readyState: video.readyState,
      bufferedAhead: bufferedAhead(),
    };
  }

  // Playback stalls (PlaybackStalls), counted once the engine's first frame has played.
  let hasPlayed = false;
  let stallAt: number | undefined;
  let stallFrom = 0;
  const stalls = { count: 0, totalMs: 0, longestMs: 0, recent: [] as Array<{ at: number; ms: number }> };
  function endStall(): void {
    if (stallAt === undefined) return;
    const ms = now() - stallAt;
    stalls.count++;
    stalls.totalMs += ms;
    stalls.longestMs = Math.max(stalls.longestMs, ms);
    stalls.recent.push({ at: stallAt, ms });
    if (stalls.recent.length > 20) stalls.recent.shift();
    stallAt = undefined;
  }
  const onWaiting = () => {
    if (hasPlayed && !video.paused && stallAt === undefined) {
      stallAt = now();
      stallFrom = video.currentTime;
    }
  };
  const onPlaying = () => {
    hasPlayed = true;
    endStall();
  };

  function quality(): QualityStats {
    const q = engine?.qualities() ?? { levels: [], current: -1, auto: choice === 'auto', switches: 0, switchLog: [] };
    const width = video.videoWidth;
    const height = video.videoHeight;
    const label = q.levels.find((l) => l.index === q.current)?.label ?? (height ? heightLabel(height) : undefined);
    return {
      ...q,
      choice,
      ...(label ? { playing: label } : {}),
      ...(width && height ? { resolution: { width, height } } : {}),
    };
  }

  const onTimeUpdate = () => {
    if (stallAt !== undefined && video.currentTime > stallFrom + 0.01) endStall();
    dispatch({ type: 'timeupdate', media: snapshot() });
  };
  const onSeeking = () => dispatch({ type: 'seeking' });
  const onEnded = () => dispatch({ type: 'mediaEnded' });
  video.addEventListener('timeupdate', onTimeUpdate);
  video.addEventListener('seeking', onSeeking);
  video.addEventListener('ended', onEnded);
  video.addEventListener('waiting', onWaiting);
  video.addEventListener('playing', onPlaying);
  const ticker = setInterval(() => dispatch({ type: 'tick', media: snapshot() }), TICK_MS);

  dispatch({ type: 'boot' });

  return {
    get state() {
      return wd.phase;
    },
    engine: kind,
    get hls() {
      return engine?.hls ?? null;
    },
    video,
    pdtOffsetSeconds,
    pdtLatency() {
      if (wd.phase !== 'live') return null;
      const date = engine?.playingDate();
      return date === undefined || !Number.isFinite(date) ? null : (now() - date) / 1000;
    },
    latency() {
      const raw = this.pdtLatency();
      return raw === null ? null : raw + pdtOffsetSeconds;
    },
    edgeLatency() {
      return wd.phase === 'live' ? (engine?.edgeLatency() ?? null) : null;
    },
    stats() {
      return {
        state: wd.phase,
        engine: kind,
        session: wd.session,
        ...wd.counters,
        lastProbe: wd.lastProbe,
        history: [...wd.history],
        lastError: wd.lastError,
        reloads: reloads && { ...reloads },
        ...(tuningName ? { tuning: tuningName } : {}),
        quality: quality(),
        playbackStalls: {
          count: stalls.count,
          totalMs: stalls.totalMs,
          longestMs: stalls.longestMs,
          ...(stallAt !== undefined ? { ongoingMs: now() - stallAt } : {}),
          recent: [...stalls.recent],
        },
      };
    },
    quality,
    setQuality(next: QualityChoice) {
      choice = next;
      engine?.setQuality(next);
    },
    goLive() {
      const sync = engine?.liveSyncPosition() ?? null;
      if (sync !== null) {
        video.currentTime = sync;
      } else if (video.seekable.length) {
        video.currentTime = Math.max(0, video.seekable.end(video.seekable.length - 1) - 1);
      }
      if (video.paused) play();
    },
    destroy() {
      dispatch({ type: 'destroy' });
      clearInterval(ticker);
      video.removeEventListener('timeupdate', onTimeUpdate);
      video.removeEventListener('seeking', onSeeking);
      video.removeEventListener('ended', onEnded);
      video.removeEventListener('waiting', onWaiting);
      video.removeEventListener('playing', onPlaying);
    },
  };
}
