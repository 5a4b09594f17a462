import { describe, expect, it } from 'vitest';
import type { EngineError } from '../../player/src/engines/engine';
import type { ProbeResult } from '../../player/src/playlist';
import {
  HISTORY_LIMIT,
  initialWatchdog,
  nextRandom,
  reduceWatchdog,
  type MediaSnapshot,
  type PlayerState,
  type WatchdogAction,
  type WatchdogConfig,
  type WatchdogEvent,
  type WatchdogState,
} from '../../player/src/watchdog';

/**
 * The player's state machine without a browser: events in, state and actions out. Every state the harness
 * holds is deep-frozen, so a reducer that changed its input would throw here.
 */

const T0 = 1_700_000_000_000;
const SESSION = 'k3j9x0a1b2';
const OTHER = 'zzzzzzzzzz';
const HLS: WatchdogConfig = { engine: 'hls.js', pollMs: 1000 };

const media = (over: Partial<MediaSnapshot> = {}): MediaSnapshot => ({
  currentTime: 0,
  paused: false,
  seeking: false,
  ended: false,
  readyState: 4,
  bufferedAhead: 0,
  ...over,
});
const live = (session = SESSION): ProbeResult => ({ kind: 'live', session, targetSeconds: 1 });
const fatal = (kind: EngineError['kind'], details = kind === 'media' ? 'bufferAppendError' : 'levelLoadError'): EngineError => ({
  fatal: true,
  kind,
  details,
  label: `${kind}/${details} (fatal)`,
  type: kind === 'media' ? 'mediaError' : 'networkError',
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Drives the reducer: `send` applies one event at a time, as the player core would. */
class Sim {
  state: WatchdogState;
  at = T0;
  constructor(config: WatchdogConfig = HLS, seed = 7) {
    this.state = deepFreeze(initialWatchdog(config, T0, seed));
  }
  send(event: WatchdogEvent, at = this.at): WatchdogAction[] {
    this.at = at;
    const step = reduceWatchdog(this.state, event, at);
    this.state = deepFreeze(step.state);
    return [...step.actions];
  }
  /** The generation events of the current engine or timer carry. */
  get gen(): number {
    return this.state.gen;
  }
  get phase(): PlayerState {
    return this.state.phase;
  }
}

/** Action types, without the logs. */
const kinds = (actions: WatchdogAction[]) => actions.filter((a) => a.type !== 'log').map((a) => a.type);
const timerMs = (actions: WatchdogAction[]) => {
  const t = actions.find((a) => a.type === 'setTimer');
  if (!t || t.type !== 'setTimer') throw new Error(`no setTimer in ${JSON.stringify(actions)}`);
  return t.ms;
};
const logs = (actions: WatchdogAction[]) => actions.flatMap((a) => (a.type === 'log' ? [a] : []));

// --- starting points, each reached through real events -------------------------------------------------

function waiting(config: WatchdogConfig = HLS): Sim {
  const sim = new Sim(config);
  sim.send({ type: 'boot' });
  return sim;
}

function starting(config: WatchdogConfig = HLS): Sim {
  const sim = waiting(config);
  sim.send({ type: 'timer', gen: sim.gen });
  sim.send({ type: 'probed', gen: sim.gen, purpose: 'wait', result: live(), media: media() });
  sim.send({ type: 'ready', gen: sim.gen });
  return sim;
}

/** Live since T0 + 1 s, frames last advanced then. */
function playing(config: WatchdogConfig = HLS): Sim {
  const sim = starting(config);
  sim.send({ type: 'timeupdate', media: media({ currentTime: 0 }) }, T0 + 800);
  sim.send({ type: 'timeupdate', media: media({ currentTime: 0.2 }) }, T0 + 1000);
  return sim;
}

/** Live, and the playlist ended at T0 + 2 s with 2 s buffered (budget 6 s); frames advanced then. */
function endlisted(): Sim {
  const sim = playing();
  sim.send({ type: 'timeupdate', media: media({ currentTime: 1.2 }) }, T0 + 2000);
  sim.send({ type: 'endlist', gen: sim.gen, media: media({ currentTime: 1.2, bufferedAhead: 2 }) }, T0 + 2000);
  return sim;
}

/** Played, then ended: polling again. */
function ended(): Sim {
  const sim = playing();
  sim.send({ type: 'mediaEnded' }, T0 + 3000);
  return sim;
}

const fresh = (config: WatchdogConfig = HLS) => new Sim(config);

const STARTS = { fresh, waiting, starting, playing, endlisted, ended } as const;

interface Row {
  readonly name: string;
  readonly from: keyof typeof STARTS;
  readonly engine?: WatchdogConfig['engine'];
  /** The event, given the sim (for its gen and time). */
  readonly event: (sim: Sim) => WatchdogEvent;
  /** When it happens, after the starting point's last event. */
  readonly after?: number;
  readonly phase: PlayerState;
  readonly actions: ReadonlyArray<WatchdogAction['type']>;
  readonly check?: (sim: Sim, actions: WatchdogAction[]) => void;
}

const ROWS: Row[] = [
  {
    name: 'boot: wait for the stream at once',
    from: 'fresh',
    event: () => ({ type: 'boot' }),
    phase: 'offline',
    actions: ['stop', 'setTimer'],
    check: (s, a) => expect(a).toContainEqual({ type: 'setTimer', gen: s.gen, ms: 0 }),
  },
  {
    name: 'boot with no engine: nothing to wait for',
    from: 'fresh',
    engine: 'none',
    event: () => ({ type: 'boot' }),
    phase: 'offline',
    actions: [],
  },
  {
    name: 'the poll timer fires: probe the playlist',
    from: 'waiting',
    event: (s) => ({ type: 'timer', gen: s.gen }),
    phase: 'offline',
    actions: ['probe'],
  },
  {
    name: 'a timer of an older generation: ignored',
    from: 'waiting',
    event: (s) => ({ type: 'timer', gen: s.gen - 1 }),
    phase: 'offline',
    actions: [],
  },
  {
    name: 'poll says offline: poll again in pollMs + jitter',
    from: 'waiting',
    event: (s) => ({ type: 'probed', gen: s.gen, purpose: 'wait', result: { kind: 'offline' }, media: media() }),
    phase: 'offline',
    actions: ['setTimer'],
    check: (s, a) => {
      expect(timerMs(a)).toBeGreaterThanOrEqual(1000);
      expect(timerMs(a)).toBeLessThanOrEqual(1200);
      expect(s.state.counters.probes).toBe(1);
      expect(s.state.lastProbe).toBe('offline');
    },
  },
  {
    name: 'poll says live: start the engine with that playlist',
    from: 'waiting',
    event: (s) => ({ type: 'probed', gen: s.gen, purpose: 'wait', result: live(), media: media() }),
    phase: 'starting',
    actions: ['stop', 'state', 'attach'],
    check: (s, a) => {
      expect(a.find((x) => x.type === 'attach')).toEqual({ type: 'attach', gen: s.gen, playlist: live() });
      expect(s.state.running).toBe(true);
      expect(s.state.session).toBe(SESSION);
    },
  },
  {
    name: 'poll fails (network, 5xx): back off from pollMs',
    from: 'waiting',
    event: (s) => ({ type: 'probed', gen: s.gen, purpose: 'wait', result: { kind: 'error', status: 503 }, media: media() }),
    phase: 'offline',
    actions: ['setTimer'],
    check: (s, a) => {
      expect(timerMs(a)).toBeGreaterThanOrEqual(1000);
      expect(timerMs(a)).toBeLessThanOrEqual(1400);
      expect(s.state.waitErrors).toBe(1);
    },
  },
  {
    name: 'poll says ended before anything played: stay offline, remember the session',
    from: 'waiting',
    event: (s) => ({ type: 'probed', gen: s.gen, purpose: 'wait', result: { kind: 'ended', session: SESSION }, media: media() }),
    phase: 'offline',
    actions: ['setTimer'],
    check: (s) => expect(s.state.endedSession).toBe(SESSION),
  },
  {
    name: 'a poll answer of an older generation: ignored',
    from: 'waiting',
    event: (s) => ({ type: 'probed', gen: s.gen - 1, purpose: 'wait', result: live(), media: media() }),
    phase: 'offline',
    actions: [],
  },
  { name: 'engine ready: play', from: 'starting', event: (s) => ({ type: 'ready', gen: s.gen }), phase: 'starting', actions: ['play'] },
  { name: 'an older engine ready: ignored', from: 'starting', event: (s) => ({ type: 'ready', gen: s.gen - 1 }), phase: 'starting', actions: [] },
  {
    name: 'first frame while starting: remembered, not live yet',
    from: 'starting',
    event: () => ({ type: 'timeupdate', media: media({ currentTime: 5 }) }),
    phase: 'starting',
    actions: [],
    check: (s) => expect(s.state.firstTime).toBe(5),
  },
  {
    name: 'a paused or unready element does not count as playing',
    from: 'starting',
    event: () => ({ type: 'timeupdate', media: media({ currentTime: 5, paused: true }) }),
    phase: 'starting',
    actions: [],
    check: (s) => expect(s.state.firstTime).toBeUndefined(),
  },
  {
    name: 'a start that has not played in 20 s: restart',
    from: 'starting',
    event: () => ({ type: 'tick', media: media() }),
    after: 20_001,
    phase: 'starting',
    actions: ['stop', 'setTimer'],
    check: (s, a) => {
      expect(s.state.counters.restarts).toBe(1);
      expect(logs(a).find((l) => l.message === 'restart')?.data?.why).toBe('start timed out');
    },
  },
  {
    name: 'a start at 19 s: keep waiting',
    from: 'starting',
    event: () => ({ type: 'tick', media: media() }),
    after: 19_000,
    phase: 'starting',
    actions: [],
  },
  {
    name: 'a non-fatal engine error: counted only',
    from: 'playing',
    event: (s) => ({
      type: 'engineError',
      gen: s.gen,
      error: { fatal: false, kind: 'other', details: 'fragLoadError', label: 'networkError/fragLoadError' },
    }),
    phase: 'live',
    actions: [],
    check: (s) => {
      expect(s.state.counters).toMatchObject({ errors: 1, fatalErrors: 0 });
      expect(s.state.lastError).toBe('networkError/fragLoadError');
    },
  },
  {
    name: 'a fatal network error while live: back to starting, restart after ~1 s',
    from: 'playing',
    event: (s) => ({ type: 'engineError', gen: s.gen, error: fatal('other') }),
    phase: 'starting',
    actions: ['state', 'stop', 'setTimer'],
    check: (s, a) => {
      expect(timerMs(a)).toBeGreaterThanOrEqual(800);
      expect(timerMs(a)).toBeLessThanOrEqual(1200);
      expect(s.state.counters).toMatchObject({ errors: 1, fatalErrors: 1, restarts: 1 });
      expect(s.state.running).toBe(false);
    },
  },
  {
    name: 'a fatal media error: recover in place',
    from: 'playing',
    event: (s) => ({ type: 'engineError', gen: s.gen, error: fatal('media') }),
    phase: 'live',
    actions: ['recoverMedia'],
    check: (_s, a) => expect(a.find((x) => x.type === 'recoverMedia')).toEqual({ type: 'recoverMedia', swapAudioCodec: false }),
  },
  {
    name: "an older engine's fatal error: ignored",
    from: 'playing',
    event: (s) => ({ type: 'engineError', gen: s.gen - 1, error: fatal('other') }),
    phase: 'live',
    actions: [],
  },
  {
    name: 'the native element fails: restart (no in-place recovery)',
    from: 'playing',
    engine: 'native',
    event: (s) => ({
      type: 'engineError',
      gen: s.gen,
      error: { fatal: true, kind: 'element', details: 'native media error 4', label: 'native media error 4' },
    }),
    phase: 'starting',
    actions: ['state', 'stop', 'setTimer'],
    check: (s) => {
      expect(s.state.counters).toMatchObject({ errors: 1, fatalErrors: 1, restarts: 1, mediaRecoveries: 0 });
      expect(s.state.lastError).toBe('native media error 4');
    },
  },
  {
    name: 'the element reports ended: ended, poll again in pollMs',
    from: 'playing',
    event: () => ({ type: 'mediaEnded' }),
    phase: 'ended',
    actions: ['state', 'stop', 'setTimer'],
    check: (s, a) => {
      expect(timerMs(a)).toBe(1000);
      expect(s.state.endedSession).toBe(SESSION);
    },
  },
  {
    name: 'frames stopped 3.9 s: nothing yet',
    from: 'playing',
    event: () => ({ type: 'tick', media: media() }),
    after: 3900,
    phase: 'live',
    actions: [],
  },
  {
    name: 'frames stopped 4 s while live: look at the playlist',
    from: 'playing',
    event: () => ({ type: 'tick', media: media() }),
    after: 4000,
    phase: 'live',
    actions: ['probe'],
    check: (s, a) => {
      expect(a).toContainEqual({ type: 'probe', gen: s.gen, purpose: 'stall' });
      expect(s.state.counters.stalls).toBe(1);
    },
  },
  {
    name: 'paused by the viewer: no stall',
    from: 'playing',
    event: () => ({ type: 'tick', media: media({ paused: true }) }),
    after: 9000,
    phase: 'live',
    actions: [],
  },
  {
    name: 'end of list, buffer still playing: wait',
    from: 'endlisted',
    event: () => ({ type: 'tick', media: media({ bufferedAhead: 1.5 }) }),
    after: 500,
    phase: 'live',
    actions: [],
  },
  {
    name: 'end of list, the budget spent: ended',
    from: 'endlisted',
    event: () => ({ type: 'tick', media: media({ bufferedAhead: 1.5 }) }),
    after: 6001,
    phase: 'ended',
    actions: ['state', 'stop', 'setTimer'],
  },
  {
    name: 'end of list, element ended: ended',
    from: 'endlisted',
    event: () => ({ type: 'tick', media: media({ ended: true }) }),
    phase: 'ended',
    actions: ['state', 'stop', 'setTimer'],
  },
  {
    name: 'end of list, no progress for 1 s and nothing buffered: ended',
    from: 'endlisted',
    event: () => ({ type: 'tick', media: media({ bufferedAhead: 0.2 }) }),
    after: 1001,
    phase: 'ended',
    actions: ['state', 'stop', 'setTimer'],
  },
  {
    name: 'a fatal error after the end of list: ended, not restarted',
    from: 'endlisted',
    event: (s) => ({ type: 'engineError', gen: s.gen, error: fatal('other') }),
    phase: 'ended',
    actions: ['state', 'stop', 'setTimer'],
    check: (s) => expect(s.state.counters.restarts).toBe(0),
  },
  {
    name: 'ended and polling: the watchdog has nothing to watch',
    from: 'ended',
    event: () => ({ type: 'tick', media: media() }),
    after: 30_000,
    phase: 'ended',
    actions: [],
  },
  {
    name: "ended: the ended session's playlist, still cached live, does not restart it",
    from: 'ended',
    event: (s) => ({ type: 'probed', gen: s.gen, purpose: 'wait', result: live(SESSION), media: media() }),
    phase: 'ended',
    actions: ['setTimer'],
  },
  {
    name: 'ended: a new publish starts',
    from: 'ended',
    event: (s) => ({ type: 'probed', gen: s.gen, purpose: 'wait', result: live(OTHER), media: media() }),
    phase: 'starting',
    actions: ['stop', 'state', 'attach'],
    check: (s) => expect(s.state.session).toBe(OTHER),
  },
  {
    name: 'destroy: stop the engine and the timer',
    from: 'playing',
    event: () => ({ type: 'destroy' }),
    phase: 'live',
    actions: ['stop'],
    check: (s) => expect(s.state.destroyed).toBe(true),
  },
];

describe('watchdog reducer: one event from a known state', () => {
  it.each(ROWS)('$name', (row) => {
    const sim = STARTS[row.from](row.engine ? { ...HLS, engine: row.engine } : HLS);
    const actions = sim.send(row.event(sim), sim.at + (row.after ?? 0));
    expect(sim.phase).toBe(row.phase);
    expect(kinds(actions)).toEqual(row.actions);
    row.check?.(sim, actions);
  });
});

describe('watchdog reducer: sequences', () => {
  it('goes live when frames advance by more than 0.1 s; a seek in between starts the count over', () => {
    const sim = starting();
    sim.send({ type: 'timeupdate', media: media({ currentTime: 3 }) }, T0 + 100);
    sim.send({ type: 'seeking' }, T0 + 150);
    expect(kinds(sim.send({ type: 'timeupdate', media: media({ currentTime: 3.5 }) }, T0 + 200))).toEqual([]);
    expect(sim.phase).toBe('starting');
    expect(kinds(sim.send({ type: 'timeupdate', media: media({ currentTime: 3.55 }) }, T0 + 250))).toEqual([]);
    const actions = sim.send({ type: 'timeupdate', media: media({ currentTime: 3.7 }) }, T0 + 400);
    expect(actions).toContainEqual({ type: 'state', state: 'live', previous: 'starting' });
    expect(sim.state.history.map((h) => h.state)).toEqual(['offline', 'starting', 'live']);
    expect(sim.state.history[2].at).toBe(T0 + 400);
  });

  it('media errors: recover, then swap the audio codec, then restart; the window is 10 s', () => {
    const sim = playing();
    const err = (at: number) => sim.send({ type: 'engineError', gen: sim.gen, error: fatal('media') }, at);
    expect(err(T0 + 2000).filter((a) => a.type === 'recoverMedia')).toEqual([{ type: 'recoverMedia', swapAudioCodec: false }]);
    // 10 s later the first has left the window: this one is a first again.
    expect(err(T0 + 12_000).filter((a) => a.type === 'recoverMedia')).toEqual([{ type: 'recoverMedia', swapAudioCodec: false }]);
    expect(err(T0 + 13_000).filter((a) => a.type === 'recoverMedia')).toEqual([{ type: 'recoverMedia', swapAudioCodec: true }]);
    expect(kinds(err(T0 + 14_000))).toEqual(['state', 'stop', 'setTimer']);
    expect(sim.state.counters).toMatchObject({ mediaRecoveries: 3, restarts: 1, fatalErrors: 4 });
  });

  it('restarts back off 1, 2, 4, 8, 8 s (±20 %), and start over after 10 s of healthy play', () => {
    const sim = starting();
    const delays: number[] = [];
    const failOnce = () => {
      const actions = sim.send({ type: 'engineError', gen: sim.gen, error: fatal('other') }, sim.at + 100);
      delays.push(timerMs(actions));
      sim.send({ type: 'timer', gen: sim.gen }, sim.at + timerMs(actions));
      sim.send({ type: 'probed', gen: sim.gen, purpose: 'wait', result: live(), media: media() }, sim.at + 10);
    };
    for (let i = 0; i < 5; i++) failOnce();
    [1000, 2000, 4000, 8000, 8000].forEach((base, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(base * 0.8);
      expect(delays[i]).toBeLessThanOrEqual(base * 1.2);
    });
    // Now play, stay live over 10 s, and fail: the backoff is back at 1 s.
    sim.send({ type: 'timeupdate', media: media({ currentTime: 0 }) }, sim.at + 100);
    sim.send({ type: 'timeupdate', media: media({ currentTime: 0.5 }) }, sim.at + 500);
    expect(sim.phase).toBe('live');
    for (let i = 1; i <= 22; i++) sim.send({ type: 'timeupdate', media: media({ currentTime: 0.5 + i / 2 }) }, sim.at + 500);
    sim.send({ type: 'tick', media: media() }, sim.at + 100);
    expect(sim.state.failures).toBe(0);
    delays.length = 0;
    failOnce();
    expect(delays[0]).toBeLessThanOrEqual(1200);
  });

  it('the waiting poll backs off on errors (1, 2, 4 s from pollMs) and resets on a definite answer', () => {
    const sim = waiting();
    const answer = (result: ProbeResult) => {
      sim.send({ type: 'timer', gen: sim.gen });
      return timerMs(sim.send({ type: 'probed', gen: sim.gen, purpose: 'wait', result, media: media() }));
    };
    const errors = [answer({ kind: 'error' }), answer({ kind: 'error' }), answer({ kind: 'error' })];
    expect(errors[1]).toBeGreaterThanOrEqual(1600);
    expect(errors[2]).toBeGreaterThanOrEqual(3200);
    expect(errors[2]).toBeLessThanOrEqual(4800 + 200);
    expect(answer({ kind: 'offline' })).toBeLessThanOrEqual(1200);
    expect(answer({ kind: 'error' })).toBeLessThanOrEqual(1400);
  });

  it('a stall: the playlist gone ends the stream; still live restarts only after 15 s; a new session restarts at once', () => {
    const stalled = (after: number) => {
      const sim = playing();
      const actions = sim.send({ type: 'tick', media: media() }, T0 + 1000 + after);
      expect(kinds(actions)).toEqual(['probe']);
      return sim;
    };
    const answer = (sim: Sim, result: ProbeResult) => sim.send({ type: 'probed', gen: sim.gen, purpose: 'stall', result, media: media() });

    let sim = stalled(4000);
    // A second tick while the probe is out sends no second probe.
    expect(kinds(sim.send({ type: 'tick', media: media() }, sim.at + 500))).toEqual([]);
    expect(kinds(answer(sim, { kind: 'offline' }))).toEqual(['state', 'stop', 'setTimer']);
    expect(sim.phase).toBe('ended');

    sim = stalled(4000);
    expect(kinds(answer(sim, live()))).toEqual([]);
    expect(sim.phase).toBe('live');
    expect(sim.state.stallProbe).toBeUndefined();

    sim = stalled(15_001);
    expect(kinds(answer(sim, live()))).toEqual(['state', 'stop', 'setTimer']);
    expect(sim.phase).toBe('starting');

    sim = stalled(4000);
    expect(logs(answer(sim, live(OTHER))).find((l) => l.message === 'restart')?.data?.why).toBe('new session');

    // The playlist ended: play out the buffer (budget: 4 s with nothing buffered), then ended.
    sim = stalled(4000);
    expect(kinds(answer(sim, { kind: 'ended', session: SESSION }))).toEqual([]);
    expect(sim.state.endlist).toEqual({ seenAt: sim.at, budgetMs: 4000 });
    expect(kinds(sim.send({ type: 'tick', media: media({ bufferedAhead: 1 }) }, sim.at + 4001))).toEqual(['state', 'stop', 'setTimer']);
  });

  it('a stall answer that comes back after a restart changes nothing but the in-flight flag', () => {
    const sim = playing();
    sim.send({ type: 'tick', media: media() }, T0 + 5000);
    const oldGen = sim.gen;
    sim.send({ type: 'engineError', gen: sim.gen, error: fatal('other') }, T0 + 5100);
    const actions = sim.send({ type: 'probed', gen: oldGen, purpose: 'stall', result: { kind: 'offline' }, media: media() }, T0 + 5200);
    expect(actions).toEqual([]);
    expect(sim.phase).toBe('starting');
    expect(sim.state.stallProbe).toBeUndefined();
  });

  it('after a restart, a definite offline settles into ended if the stream had played, offline if not', () => {
    for (const [from, expected] of [
      [playing, 'ended'],
      [starting, 'offline'],
    ] as const) {
      const sim = from();
      sim.send({ type: 'engineError', gen: sim.gen, error: fatal('other') }, sim.at + 100);
      expect(sim.phase).toBe('starting');
      sim.send({ type: 'timer', gen: sim.gen });
      const actions = sim.send({ type: 'probed', gen: sim.gen, purpose: 'wait', result: { kind: 'offline' }, media: media() });
      expect(sim.phase).toBe(expected);
      expect(actions).toContainEqual({ type: 'state', state: expected, previous: 'starting' });
    }
  });

  it('events of an older engine (end of list, errors) change nothing once it is replaced', () => {
    const sim = ended();
    sim.send({ type: 'probed', gen: sim.gen, purpose: 'wait', result: live(OTHER), media: media() });
    const before = sim.state;
    expect(sim.send({ type: 'endlist', gen: sim.gen - 3, media: media() })).toEqual([]);
    expect(sim.send({ type: 'engineError', gen: sim.gen - 3, error: fatal('other') })).toEqual([]);
    expect(sim.state).toEqual(before);
  });

  it('after destroy every event is ignored', () => {
    const sim = playing();
    sim.send({ type: 'destroy' });
    const frozen = sim.state;
    const events: WatchdogEvent[] = [{ type: 'mediaEnded' }, { type: 'tick', media: media() }, { type: 'timer', gen: sim.gen }, { type: 'boot' }];
    for (const e of events) {
      expect(sim.send(e, sim.at + 60_000)).toEqual([]);
      expect(sim.state).toBe(frozen);
    }
  });

  it('keeps the last 50 state changes', () => {
    const sim = playing();
    for (let i = 0; i < 40; i++) {
      sim.send({ type: 'engineError', gen: sim.gen, error: fatal('other') }, sim.at + 100);
      sim.send({ type: 'timer', gen: sim.gen }, sim.at + 100);
      sim.send({ type: 'probed', gen: sim.gen, purpose: 'wait', result: live(), media: media() }, sim.at + 10);
      sim.send({ type: 'timeupdate', media: media({ currentTime: 0 }) }, sim.at + 10);
      sim.send({ type: 'timeupdate', media: media({ currentTime: 0.5 }) }, sim.at + 10);
    }
    expect(sim.state.history).toHaveLength(HISTORY_LIMIT);
    expect(sim.state.history[HISTORY_LIMIT - 1].state).toBe('live');
  });

  it('is deterministic for a seed, and the jitter differs between seeds', () => {
    const delays = (seed: number) => {
      const sim = new Sim(HLS, seed);
      sim.send({ type: 'boot' });
      const out: number[] = [];
      for (let i = 0; i < 5; i++) {
        sim.send({ type: 'timer', gen: sim.gen });
        out.push(timerMs(sim.send({ type: 'probed', gen: sim.gen, purpose: 'wait', result: { kind: 'offline' }, media: media() })));
      }
      return out;
    };
    expect(delays(1)).toEqual(delays(1));
    expect(delays(1)).not.toEqual(delays(2));
    for (let seed = 0, i = 0; i < 1000; i++) {
      const [x, next] = nextRandom(seed);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      seed = next;
    }
  });
});
