import Hls, { ErrorTypes, Events, FetchLoader, type ErrorData, type HlsConfig, type LevelLoadedData } from 'hls.js';
import { createAlignedPlaylistLoader, type AlignedLoaderStats } from './aligned-loader';
import { backoffMs, classifyPlaylist, type ProbeResult } from './playlist';
import { DEFAULT_PDT_OFFSET_SECONDS, liveSyncConfig, LOW_LATENCY_HLS_CONFIG } from './tuning';

/**
 * The Keyframe player core: one `<video>`, one stream URL, and a small state machine around hls.js (or the
 * browser's own HLS where there is no MSE):
 *
 *   offline ──(playlist has segments)──▶ starting ──(frames advance)──▶ live
 *      ▲                                    ▲  │                         │
 *      │                                    │  └──(fatal error: back off, probe again)
 *      └─(404)── waiting ◀──(ENDLIST played out, or 404 while live)── ended ──(a new publish)──▶ starting
 *
 * While no stream plays it polls the playlist itself (404 = offline), so a viewer who arrives early, or
 * stays after the end, starts watching the next publish without a reload.
 */

export type PlayerState = 'offline' | 'starting' | 'live' | 'ended';
export type PlayerEngine = 'hls.js' | 'native' | 'none';

export interface PlayerOptions {
  readonly video: HTMLVideoElement;
  /** The stream's `index.m3u8`. */
  readonly src: string;
  /** Overrides merged over LOW_LATENCY_HLS_CONFIG. */
  readonly hlsConfig?: Partial<HlsConfig>;
  /** Added to the PDT-based latency (see tuning.ts). */
  readonly pdtOffsetSeconds?: number;
  /** `auto` (default): hls.js where MSE exists, else native HLS if the browser plays it. */
  readonly engine?: 'auto' | 'hls.js' | 'native';
  /** Playlist poll interval while offline or ended. */
  readonly pollMs?: number;
  /**
   * Time playlist reloads to when the next segment is due (aligned-loader.ts). Default true; false uses a
   * plain fetch loader on hls.js's fixed beat.
   */
  readonly alignReloads?: boolean;
  /** Sync distance beyond one target duration (tuning.ts LIVE_SYNC_MARGIN_SECONDS). */
  readonly syncMarginSeconds?: number;
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
  readonly history: ReadonlyArray<{ readonly state: PlayerState; readonly at: number }>;
  readonly lastError?: string;
  /** The aligned playlist loader of the current engine (hls.js only). */
  readonly reloads?: Readonly<AlignedLoaderStats>;
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
  /** Jump to the live sync point. */
  goLive(): void;
  destroy(): void;
}

const STALL_PROBE_MS = 4000;
const STALL_RESTART_MS = 15_000;
const START_TIMEOUT_MS = 20_000;
const HEALTHY_AFTER_MS = 10_000;

export function pickEngine(video: HTMLVideoElement, wanted: PlayerOptions['engine'] = 'auto'): PlayerEngine {
  const native = video.canPlayType('application/vnd.apple.mpegurl') !== '';
  if (wanted === 'native') return native ? 'native' : 'none';
  if (Hls.isSupported()) return 'hls.js';
  return wanted === 'auto' && native ? 'native' : 'none';
}

export function createPlayer(opts: PlayerOptions): KeyframePlayer {
  const { video, src } = opts;
  const pollMs = opts.pollMs ?? 1000;
  const pdtOffsetSeconds = opts.pdtOffsetSeconds ?? DEFAULT_PDT_OFFSET_SECONDS;
  const engine = pickEngine(video, opts.engine);
  const log = opts.onLog ?? (() => undefined);

  let state: PlayerState = 'offline';
  const history: Array<{ state: PlayerState; at: number }> = [{ state, at: Date.now() }];
  let destroyed = false;
  let hls: Hls | null = null;
  /** Bumped whenever an engine starts or stops: callbacks of an older generation do nothing. */
  let gen = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let everPlayed = false;
  let session: string | undefined;
  let endedSession: string | undefined;
  let endlistSeenAt: number | undefined;
  let endBudgetMs = 0;
  let startedAt = 0;
  let liveSince = 0;
  let failures = 0;
  let firstTime: number | undefined;
  let lastTime = -1;
  let lastProgressAt = 0;
  let probing = false;
  /** An engine is attached (hls.js instance or native src). */
  let running = false;
  let mediaErrorTimes: number[] = [];
  const counters = { errors: 0, fatalErrors: 0, mediaRecoveries: 0, restarts: 0, stalls: 0 };
  let lastError: string | undefined;
  let reloads: AlignedLoaderStats | undefined;

  function setState(next: PlayerState): void {
    if (next === state || destroyed) return;
    const previous = state;
    state = next;
    history.push({ state, at: Date.now() });
    if (history.length > 50) history.shift();
    log('state', { state, previous });
    opts.onStateChange?.(next, previous);
  }

  function later(ms: number, fn: () => void): void {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  }

  async function probe(): Promise<ProbeResult> {
    try {
      const res = await fetch(src, { cache: 'no-store', credentials: 'omit' });
      return classifyPlaylist(res.status, res.status === 200 ? await res.text() : '');
    } catch {
      return { kind: 'error' };
    }
  }

  function stopEngine(): void {
    gen++;
    clearTimeout(timer);
    running = false;
    endlistSeenAt = undefined;
    firstTime = undefined;
    if (hls) {
      hls.destroy();
      hls = null;
    } else if (engine === 'native' && video.getAttribute('src')) {
      video.removeAttribute('src');
      video.load();
    }
  }

  /** No engine: poll the playlist until a stream (other than the one that just ended) is live. */
  function waitForStream(delayMs: number): void {
    stopEngine();
    const my = gen;
    let errorAttempt = 0;
    const tick = async () => {
      if (my !== gen || destroyed) return;
      const r = await probe();
      if (my !== gen || destroyed) return;
      let next = pollMs;
      if (r.kind === 'live' && !(r.session && r.session === endedSession)) {
        startEngine(r.session, r.targetSeconds);
        return;
      } else if (r.kind === 'error') {
        next = Math.max(pollMs, backoffMs(errorAttempt++, { baseMs: pollMs }));
      } else {
        errorAttempt = 0;
        if (r.kind === 'ended' && r.session) endedSession = r.session;
        // A definite answer: settle "starting" (a retry in progress) into offline or ended.
        if (state === 'starting' || state === 'live') setState(everPlayed ? 'ended' : 'offline');
      }
      later(next + Math.round(Math.random() * 200), tick);
    };
    later(delayMs, tick);
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

  function startEngine(newSession: string | undefined, targetSeconds: number | undefined): void {
    stopEngine();
    const my = gen;
    session = newSession;
    startedAt = Date.now();
    lastProgressAt = startedAt;
    lastTime = -1;
    running = true;
    setState('starting');
    log('start', { engine, session });
    if (engine === 'hls.js') {
      reloads = { waits: 0, polls: 0 };
      const pLoader = opts.alignReloads === false ? (FetchLoader as unknown as HlsConfig['pLoader']) : createAlignedPlaylistLoader(reloads);
      const h = new Hls({ ...LOW_LATENCY_HLS_CONFIG, ...liveSyncConfig(targetSeconds, opts.hlsConfig, opts.syncMarginSeconds), pLoader, ...opts.hlsConfig });
      hls = h;
      h.on(Events.MANIFEST_PARSED, () => my === gen && play());
      h.on(Events.LEVEL_LOADED, (_e, data: LevelLoadedData) => {
        if (my === gen && !data.details.live) onEndlist();
      });
      h.on(Events.ERROR, (_e, data: ErrorData) => onHlsError(my, data));
      h.attachMedia(video);
      h.loadSource(src);
    } else if (engine === 'native') {
      video.src = src;
      play();
    }
  }

  /** The playlist now ends: play out what is buffered, then say ended. */
  function onEndlist(): void {
    if (endlistSeenAt !== undefined) return;
    endlistSeenAt = Date.now();
    endedSession = session;
    const ahead = bufferedAhead();
    endBudgetMs = Math.max(0, ahead) * 1000 + 4000;
    log('endlist', { bufferedAhead: ahead });
  }

  function finishEnded(why: string): void {
    log('ended', { why });
    if (session) endedSession = session;
    everPlayed = true;
    setState('ended');
    waitForStream(pollMs);
  }

  /** A fatal problem with the running engine: start over from a probe, backing off. */
  function restart(why: string): void {
    counters.restarts++;
    const delay = backoffMs(failures++, { baseMs: 1000, maxMs: 8000 });
    log('restart', { why, delay });
    if (state === 'live') setState('starting');
    waitForStream(delay);
  }

  function onHlsError(my: number, data: ErrorData): void {
    if (my !== gen || destroyed) return;
    counters.errors++;
    lastError = `${data.type}/${data.details}${data.fatal ? ' (fatal)' : ''}`;
    if (!data.fatal) return;
    counters.fatalErrors++;
    log('fatal error', { type: data.type, details: data.details });
    if (endlistSeenAt !== undefined) {
      finishEnded(`error after end-of-list: ${data.details}`);
      return;
    }
    if (data.type === ErrorTypes.MEDIA_ERROR && hls) {
      const now = Date.now();
      mediaErrorTimes = mediaErrorTimes.filter((t) => now - t < 10_000);
      mediaErrorTimes.push(now);
      if (mediaErrorTimes.length <= 2) {
        counters.mediaRecoveries++;
        // Two media errors in a row: the audio codec hls.js guessed may be wrong (HE-AAC vs AAC-LC).
        if (mediaErrorTimes.length === 2) hls.swapAudioCodec();
        hls.recoverMediaError();
        return;
      }
    }
    // Network errors (hls.js has already retried), parsing errors, repeated media errors.
    restart(data.details);
  }

  function bufferedAhead(): number {
    const b = video.buffered;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= video.currentTime + 0.1 && b.end(i) >= video.currentTime) return b.end(i) - video.currentTime;
    }
    return 0;
  }

  // --- the media element ---------------------------------------------------------------------------

  const onTimeUpdate = () => {
    if (destroyed || (state !== 'starting' && state !== 'live')) return;
    const t = video.currentTime;
    if (t !== lastTime) {
      lastTime = t;
      lastProgressAt = Date.now();
    }
    if (state === 'starting' && !video.paused && !video.seeking && video.readyState >= 3) {
      if (firstTime === undefined) firstTime = t;
      else if (t - firstTime > 0.1) {
        everPlayed = true;
        liveSince = Date.now();
        setState('live');
      }
    }
  };
  const onEnded = () => {
    if (state === 'live' || state === 'starting') finishEnded('media ended');
  };
  const onMediaError = () => {
    if (engine !== 'native' || destroyed || (state !== 'starting' && state !== 'live')) return;
    counters.errors++;
    counters.fatalErrors++;
    lastError = `native media error ${video.error?.code ?? ''}`.trim();
    restart(lastError);
  };
  const onSeeking = () => {
    firstTime = undefined;
  };
  video.addEventListener('timeupdate', onTimeUpdate);
  video.addEventListener('seeking', onSeeking);
  video.addEventListener('ended', onEnded);
  video.addEventListener('error', onMediaError);

  // --- watchdog: stalls, a start that never plays, an end-of-list that never plays out ---------------

  const watchdog = setInterval(() => {
    if (destroyed || !running) return;
    const now = Date.now();
    if (state === 'live' && now - liveSince > HEALTHY_AFTER_MS) failures = 0;
    if (endlistSeenAt !== undefined) {
      const stuck = now - lastProgressAt > 1000 && bufferedAhead() < 0.3;
      if (video.ended || stuck || now - endlistSeenAt > endBudgetMs) finishEnded('end-of-list played out');
      return;
    }
    if (state === 'starting' && now - startedAt > START_TIMEOUT_MS) {
      restart('start timed out');
      return;
    }
    if (state !== 'live' || video.paused || probing) return;
    const stalled = now - lastProgressAt;
    if (stalled < STALL_PROBE_MS) return;
    counters.stalls++;
    // Stalled: the publisher may be reconnecting (the route stays), or the stream may be gone.
    const my = gen;
    probing = true;
    void probe().then((r) => {
      probing = false;
      if (my !== gen || destroyed) return;
      if (r.kind === 'offline') finishEnded('stream gone while stalled');
      else if (r.kind === 'ended') onEndlist();
      else if (r.kind === 'live' && r.session && session && r.session !== session) restart('new session');
      else if (stalled > STALL_RESTART_MS) restart('stalled');
    });
  }, 500);

  // A browser with neither MSE nor native HLS: nothing to wait for.
  if (engine !== 'none') waitForStream(0);

  return {
    get state() {
      return state;
    },
    engine,
    get hls() {
      return hls;
    },
    video,
    pdtOffsetSeconds,
    pdtLatency() {
      if (state !== 'live') return null;
      let date: number | undefined;
      if (hls) {
        date = hls.playingDate?.getTime();
      } else if (engine === 'native') {
        // Safari maps EXT-X-PROGRAM-DATE-TIME to the media timeline through getStartDate().
        const start = (video as HTMLVideoElement & { getStartDate?: () => Date }).getStartDate?.();
        const ms = start?.getTime();
        if (ms !== undefined && Number.isFinite(ms)) date = ms + video.currentTime * 1000;
      }
      return date === undefined || !Number.isFinite(date) ? null : (Date.now() - date) / 1000;
    },
    latency() {
      const raw = this.pdtLatency();
      return raw === null ? null : raw + pdtOffsetSeconds;
    },
    edgeLatency() {
      return state === 'live' && hls ? hls.latency : null;
    },
    stats() {
      return { state, engine, session, ...counters, history: [...history], lastError, reloads: reloads && { ...reloads } };
    },
    goLive() {
      if (hls && hls.liveSyncPosition !== null) {
        video.currentTime = hls.liveSyncPosition;
      } else if (video.seekable.length) {
        video.currentTime = Math.max(0, video.seekable.end(video.seekable.length - 1) - 1);
      }
      if (video.paused) play();
    },
    destroy() {
      stopEngine();
      destroyed = true;
      clearInterval(watchdog);
      video.removeEventListener('timeupdate', onTimeUpdate);
      video.removeEventListener('seeking', onSeeking);
      video.removeEventListener('ended', onEnded);
      video.removeEventListener('error', onMediaError);
    },
  };
}
