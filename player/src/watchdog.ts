import type { EngineError, EngineKind } from './engines/engine';
import { backoffMs, type ProbeResult } from './playlist';

/**
 * The player's state machine, as a pure reducer: `reduceWatchdog(state, event, now) → { state, actions }`.
 * The player core (player.ts) turns the `<video>`, the engine, timers and playlist probes into events, and
 * carries out the actions; this file touches no DOM, no timer and no clock, so it runs in Node tests.
 *
 *   offline ──(playlist has segments)──▶ starting ──(frames advance)──▶ live
 *      ▲                                    ▲  │                         │
 *      │                                    │  └──(fatal error: back off, probe again)
 *      └─(404)── waiting ◀──(ENDLIST played out, or 404 while live)── ended ──(a new publish)──▶ starting
 *
 * While no engine runs it polls the playlist itself (404 = offline), so a viewer who arrives early, or stays
 * after the end, starts watching the next publish without a reload.
 *
 * Every engine start or stop bumps `gen`; actions that lead to a later event (a timer, a probe, an attached
 * engine) carry it, and events of an older generation change nothing. Jitter comes from a small PRNG whose
 * seed is part of the state, so the same events give the same actions.
 */

export type PlayerState = 'offline' | 'starting' | 'live' | 'ended';

/** A live playlist as a probe saw it: what the engine is started with (and what the tuning is chosen by). */
export type LivePlaylist = Extract<ProbeResult, { kind: 'live' }>;

/** What the `<video>` shows at the moment of an event. */
export interface MediaSnapshot {
  readonly currentTime: number;
  readonly paused: boolean;
  readonly seeking: boolean;
  readonly ended: boolean;
  readonly readyState: number;
  /** Seconds buffered ahead of currentTime, in the buffered range that holds it (0 if none). */
  readonly bufferedAhead: number;
}

/** `wait`: the poll while no engine runs; `stall`: the watchdog's look at the playlist when frames stop. */
export type ProbePurpose = 'wait' | 'stall';

export type WatchdogEvent =
  /** The player was created (once). */
  | { readonly type: 'boot' }
  /** The timer of a `setTimer` action fired. */
  | { readonly type: 'timer'; readonly gen: number }
  /** The answer to a `probe` action. */
  | { readonly type: 'probed'; readonly gen: number; readonly purpose: ProbePurpose; readonly result: ProbeResult; readonly media: MediaSnapshot }
  /** The engine of generation `gen` is ready to play. */
  | { readonly type: 'ready'; readonly gen: number }
  /** The engine of generation `gen` loaded a playlist that ends. */
  | { readonly type: 'endlist'; readonly gen: number; readonly media: MediaSnapshot }
  | { readonly type: 'engineError'; readonly gen: number; readonly error: EngineError }
  /** `<video>` events. */
  | { readonly type: 'timeupdate'; readonly media: MediaSnapshot }
  | { readonly type: 'seeking' }
  | { readonly type: 'mediaEnded' }
  /** The watchdog's beat (every TICK_MS). */
  | { readonly type: 'tick'; readonly media: MediaSnapshot }
  | { readonly type: 'destroy' };

export type WatchdogAction =
  /** The visible state changed: tell the page. */
  | { readonly type: 'state'; readonly state: PlayerState; readonly previous: PlayerState }
  | { readonly type: 'log'; readonly message: string; readonly data?: Record<string, unknown> }
  /** Destroy the engine, if any, and cancel the timer. */
  | { readonly type: 'stop' }
  /** (Re)arm the one timer: send `{ type: 'timer', gen }` after `ms`. */
  | { readonly type: 'setTimer'; readonly gen: number; readonly ms: number }
  /** Fetch the playlist, classify it, and send `probed` with this gen and purpose. */
  | { readonly type: 'probe'; readonly gen: number; readonly purpose: ProbePurpose }
  /** Create an engine for this playlist and attach it; its events carry `gen`. */
  | { readonly type: 'attach'; readonly gen: number; readonly playlist: LivePlaylist }
  | { readonly type: 'play' }
  | { readonly type: 'recoverMedia'; readonly swapAudioCodec: boolean };

export interface WatchdogConfig {
  readonly engine: EngineKind;
  /** Playlist poll interval while offline or ended. */
  readonly pollMs: number;
}

export interface WatchdogCounters {
  readonly errors: number;
  readonly fatalErrors: number;
  readonly mediaRecoveries: number;
  readonly restarts: number;
  readonly stalls: number;
  /** Answers to the waiting poll. */
  readonly probes: number;
}

export interface WatchdogState {
  readonly config: WatchdogConfig;
  readonly phase: PlayerState;
  readonly destroyed: boolean;
  /** Bumped whenever an engine starts or stops. */
  readonly gen: number;
  /** An engine is attached. */
  readonly running: boolean;
  readonly everPlayed: boolean;
  readonly session?: string;
  /** The session that ended: a CDN copy of its playlist must not start it again. */
  readonly endedSession?: string;
  /** The playlist ended: play out what is buffered, within this budget. */
  readonly endlist?: { readonly seenAt: number; readonly budgetMs: number };
  readonly startedAt: number;
  readonly liveSince: number;
  /** Restarts since the stream last played healthily (drives the restart backoff). */
  readonly failures: number;
  /** Failed waiting polls in a row (drives the poll backoff). */
  readonly waitErrors: number;
  /** currentTime when the start was first seen playing, for the `live` check. */
  readonly firstTime?: number;
  readonly lastTime: number;
  readonly lastProgressAt: number;
  /** A stall probe is out; it was sent this long after the last progress. */
  readonly stallProbe?: { readonly stalledMs: number };
  readonly mediaErrorTimes: readonly number[];
  readonly counters: WatchdogCounters;
  readonly lastError?: string;
  readonly lastProbe?: ProbeResult['kind'];
  readonly history: ReadonlyArray<{ readonly state: PlayerState; readonly at: number }>;
  /** PRNG state for jitter. */
  readonly rng: number;
}

export interface WatchdogStep {
  readonly state: WatchdogState;
  readonly actions: readonly WatchdogAction[];
}

/** How often the player core sends `tick`. */
export const TICK_MS = 500;
/** Frames stopped this long while live: look at the playlist. */
export const STALL_PROBE_MS = 4000;
/** Frames stopped this long while the playlist is still live: restart. */
export const STALL_RESTART_MS = 15_000;
/** A start that has not played after this long is restarted. */
export const START_TIMEOUT_MS = 20_000;
/** Live this long: the restart backoff starts over. */
export const HEALTHY_AFTER_MS = 10_000;
/** Media errors within this window count towards one recovery attempt. */
export const MEDIA_ERROR_WINDOW_MS = 10_000;
/** After the end of list, this on top of the buffered media before `ended` regardless. */
export const END_GRACE_MS = 4000;
/** Random extra delay added to each waiting poll, so viewers do not poll in lockstep. */
export const POLL_JITTER_MS = 200;
export const HISTORY_LIMIT = 50;

/** The state of a new player; `seed` feeds the jitter (any 32-bit integer). */
export function initialWatchdog(config: WatchdogConfig, now: number, seed: number): WatchdogState {
  return {
    config,
    phase: 'offline',
    destroyed: false,
    gen: 0,
    running: false,
    everPlayed: false,
    startedAt: 0,
    liveSince: 0,
    failures: 0,
    waitErrors: 0,
    lastTime: -1,
    lastProgressAt: 0,
    mediaErrorTimes: [],
    counters: { errors: 0, fatalErrors: 0, mediaRecoveries: 0, restarts: 0, stalls: 0, probes: 0 },
    history: [{ state: 'offline', at: now }],
    rng: seed >>> 0,
  };
}

/** One step of a small seeded PRNG (mulberry32): a number in [0, 1) and the next seed. */
export function nextRandom(seed: number): [number, number] {
  const next = (seed + 0x6d2b79f5) >>> 0;
  let t = Math.imul(next ^ (next >>> 15), next | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, next];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One reduction in progress: a private copy of the state, the actions so far, and the time of the event. */
interface Step {
  readonly s: Mutable<WatchdogState>;
  readonly counters: Mutable<WatchdogCounters>;
  readonly out: WatchdogAction[];
  readonly now: number;
}

/** Applies one event. Pure: the input state is not changed, and the same inputs give the same output. */
export function reduceWatchdog(state: WatchdogState, event: WatchdogEvent, now: number): WatchdogStep {
  if (state.destroyed) return { state, actions: [] };
  const counters = { ...state.counters };
  const c: Step = { s: { ...state, counters }, counters, out: [], now };
  switch (event.type) {
    case 'boot':
      // A browser with neither MSE nor native HLS: nothing to wait for.
      if (c.s.config.engine !== 'none') waitForStream(c, 0);
      break;
    case 'timer':
      if (event.gen === c.s.gen) c.out.push({ type: 'probe', gen: c.s.gen, purpose: 'wait' });
      break;
    case 'probed':
      if (event.purpose === 'wait') onWaitProbe(c, event.gen, event.result);
      else onStallProbe(c, event.gen, event.result, event.media);
      break;
    case 'ready':
      if (event.gen === c.s.gen) c.out.push({ type: 'play' });
      break;
    case 'endlist':
      if (event.gen === c.s.gen) onEndlist(c, event.media);
      break;
    case 'engineError':
      if (event.gen === c.s.gen) onEngineError(c, event.error);
      break;
    case 'timeupdate':
      onTimeUpdate(c, event.media);
      break;
    case 'seeking':
      c.s.firstTime = undefined;
      break;
    case 'mediaEnded':
      if (c.s.phase === 'live' || c.s.phase === 'starting') finishEnded(c, 'media ended');
      break;
    case 'tick':
      onTick(c, event.media);
      break;
    case 'destroy':
      stopEngine(c);
      c.s.destroyed = true;
      break;
  }
  return { state: c.s, actions: c.out };
}

function random(c: Step): number {
  const [value, rng] = nextRandom(c.s.rng);
  c.s.rng = rng;
  return value;
}

function log(c: Step, message: string, data?: Record<string, unknown>): void {
  c.out.push(data ? { type: 'log', message, data } : { type: 'log', message });
}

function setPhase(c: Step, next: PlayerState): void {
  const previous = c.s.phase;
  if (next === previous) return;
  c.s.phase = next;
  c.s.history = [...c.s.history, { state: next, at: c.now }].slice(-HISTORY_LIMIT);
  log(c, 'state', { state: next, previous });
  c.out.push({ type: 'state', state: next, previous });
}

function stopEngine(c: Step): void {
  c.s.gen++;
  c.s.running = false;
  c.s.endlist = undefined;
  c.s.firstTime = undefined;
  c.out.push({ type: 'stop' });
}

/** No engine: poll the playlist until a stream (other than the one that just ended) is live. */
function waitForStream(c: Step, delayMs: number): void {
  stopEngine(c);
  c.s.waitErrors = 0;
  c.out.push({ type: 'setTimer', gen: c.s.gen, ms: delayMs });
}

function onWaitProbe(c: Step, gen: number, r: ProbeResult): void {
  if (gen !== c.s.gen) return;
  c.counters.probes++;
  c.s.lastProbe = r.kind;
  const { pollMs } = c.s.config;
  let next = pollMs;
  if (r.kind === 'live' && !(r.session && r.session === c.s.endedSession)) {
    startEngine(c, r);
    return;
  }
  if (r.kind === 'error') {
    next = Math.max(pollMs, backoffMs(c.s.waitErrors++, { baseMs: pollMs, random: () => random(c) }));
  } else {
    // offline, ended, or the ended session's playlist still cached somewhere: a definite answer.
    c.s.waitErrors = 0;
    if (r.kind === 'ended' && r.session) c.s.endedSession = r.session;
    // Settle "starting" (a retry in progress) into offline or ended.
    if (c.s.phase === 'starting' || c.s.phase === 'live') setPhase(c, c.s.everPlayed ? 'ended' : 'offline');
  }
  c.out.push({ type: 'setTimer', gen: c.s.gen, ms: next + Math.round(random(c) * POLL_JITTER_MS) });
}

function startEngine(c: Step, playlist: LivePlaylist): void {
  stopEngine(c);
  c.s.session = playlist.session;
  c.s.startedAt = c.now;
  c.s.lastProgressAt = c.now;
  c.s.lastTime = -1;
  c.s.running = true;
  setPhase(c, 'starting');
  log(c, 'start', { engine: c.s.config.engine, session: c.s.session });
  c.out.push({ type: 'attach', gen: c.s.gen, playlist });
}

/** The playlist now ends: play out what is buffered, then say ended. */
function onEndlist(c: Step, media: MediaSnapshot): void {
  if (c.s.endlist !== undefined) return;
  const ahead = media.bufferedAhead;
  c.s.endlist = { seenAt: c.now, budgetMs: Math.max(0, ahead) * 1000 + END_GRACE_MS };
  c.s.endedSession = c.s.session;
  log(c, 'endlist', { bufferedAhead: ahead });
}

function finishEnded(c: Step, why: string): void {
  log(c, 'ended', { why });
  if (c.s.session) c.s.endedSession = c.s.session;
  c.s.everPlayed = true;
  setPhase(c, 'ended');
  waitForStream(c, c.s.config.pollMs);
}

/** A fatal problem with the running engine: start over from a probe, backing off. */
function restart(c: Step, why: string): void {
  c.counters.restarts++;
  const delay = backoffMs(c.s.failures++, { baseMs: 1000, maxMs: 8000, random: () => random(c) });
  log(c, 'restart', { why, delay });
  if (c.s.phase === 'live') setPhase(c, 'starting');
  waitForStream(c, delay);
}

function onEngineError(c: Step, e: EngineError): void {
  if (e.kind === 'element') {
    // The native element failed: no recovery to try, and no end of list to play out (native HLS reports none).
    if (c.s.phase !== 'starting' && c.s.phase !== 'live') return;
    c.counters.errors++;
    c.counters.fatalErrors++;
    c.s.lastError = e.label;
    restart(c, e.label);
    return;
  }
  c.counters.errors++;
  c.s.lastError = e.label;
  if (!e.fatal) return;
  c.counters.fatalErrors++;
  log(c, 'fatal error', { type: e.type, details: e.details });
  if (c.s.endlist !== undefined) {
    finishEnded(c, `error after end-of-list: ${e.details}`);
    return;
  }
  if (e.kind === 'media') {
    const times = [...c.s.mediaErrorTimes.filter((t) => c.now - t < MEDIA_ERROR_WINDOW_MS), c.now];
    c.s.mediaErrorTimes = times;
    if (times.length <= 2) {
      c.counters.mediaRecoveries++;
      c.out.push({ type: 'recoverMedia', swapAudioCodec: times.length === 2 });
      return;
    }
  }
  // Network errors (hls.js has already retried), parsing errors, repeated media errors.
  restart(c, e.details);
}

function onTimeUpdate(c: Step, m: MediaSnapshot): void {
  if (c.s.phase !== 'starting' && c.s.phase !== 'live') return;
  const t = m.currentTime;
  if (t !== c.s.lastTime) {
    c.s.lastTime = t;
    c.s.lastProgressAt = c.now;
  }
  if (c.s.phase === 'starting' && !m.paused && !m.seeking && m.readyState >= 3) {
    if (c.s.firstTime === undefined) c.s.firstTime = t;
    else if (t - c.s.firstTime > 0.1) {
      c.s.everPlayed = true;
      c.s.liveSince = c.now;
      setPhase(c, 'live');
    }
  }
}

/** Stalls, a start that never plays, an end of list that never plays out. */
function onTick(c: Step, m: MediaSnapshot): void {
  if (!c.s.running) return;
  const now = c.now;
  if (c.s.phase === 'live' && now - c.s.liveSince > HEALTHY_AFTER_MS) c.s.failures = 0;
  if (c.s.endlist !== undefined) {
    const stuck = now - c.s.lastProgressAt > 1000 && m.bufferedAhead < 0.3;
    if (m.ended || stuck || now - c.s.endlist.seenAt > c.s.endlist.budgetMs) finishEnded(c, 'end-of-list played out');
    return;
  }
  if (c.s.phase === 'starting' && now - c.s.startedAt > START_TIMEOUT_MS) {
    restart(c, 'start timed out');
    return;
  }
  if (c.s.phase !== 'live' || m.paused || c.s.stallProbe) return;
  const stalledMs = now - c.s.lastProgressAt;
  if (stalledMs < STALL_PROBE_MS) return;
  // Stalled: the publisher may be reconnecting (the route stays), or the stream may be gone.
  c.counters.stalls++;
  c.s.stallProbe = { stalledMs };
  c.out.push({ type: 'probe', gen: c.s.gen, purpose: 'stall' });
}

function onStallProbe(c: Step, gen: number, r: ProbeResult, media: MediaSnapshot): void {
  const stalledMs = c.s.stallProbe?.stalledMs ?? 0;
  c.s.stallProbe = undefined;
  if (gen !== c.s.gen) return;
  if (r.kind === 'offline') finishEnded(c, 'stream gone while stalled');
  else if (r.kind === 'ended') onEndlist(c, media);
  else if (r.kind === 'live' && r.session && c.s.session && r.session !== c.s.session) restart(c, 'new session');
  else if (stalledMs > STALL_RESTART_MS) restart(c, 'stalled');
}
