/**
 * The supervisor with real ffmpeg: killed mid-stream (SIGKILL) → down, restart, up, rungs flow again; a wrapper
 * that stops reading → behind → restart; a bound on restarts → failed; garbage never throws; an empty ladder
 * spawns nothing. Sources are fed at their own pace (a live publisher); every wait is on an event, with a deadline.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNGS } from '../../../core/ladder';
import { inheritedEnvironment } from '../../../core/settings/schema';
import {
  type LadderStateEvent,
  LadderSupervisor,
  type LadderSupervisorOptions,
  ladderOutputs,
  LadderTranscoder,
} from '../../../ingest/ladder/index.js';
import type { FlvTag } from '../../../ingest/packager/index.js';
import { EventLog, waitFor, withDeadline } from '../../support/wait';
import { feedRealTime, isVideoFrame, loopTags, makeSource, script, tempDir } from './support';

const dir = tempDir();
const rungs = RUNGS.filter((r) => r.name === '240p' || r.name === '160p');
const outputs = ladderOutputs(rungs, { width: 480, height: 270 });
let clip: FlvTag[] = [];

beforeAll(async () => {
  clip = await makeSource(join(dir, 'src.flv'), { seconds: 2, gopSeconds: 1, bframes: 0 });
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Harness {
  readonly sup: LadderSupervisor;
  readonly states: EventLog<LadderStateEvent>;
  /** Rung video frames, with the number of `up` events seen when each arrived. */
  readonly frames: EventLog<{ rung: string; timestamp: number; ups: number }>;
}

function harness(opts: Partial<LadderSupervisorOptions> = {}): Harness {
  const states = new EventLog<LadderStateEvent>();
  const frames = new EventLog<{ rung: string; timestamp: number; ups: number }>();
  const sup = new LadderSupervisor({
    outputs,
    segmentSeconds: 1,
    backoffMs: 50,
    onMessage: (rung, type, timestamp, payload) => {
      if (isVideoFrame({ type, payload })) frames.push({ rung, timestamp, ups: states.filter((s) => s.state === 'up').length });
    },
    onState: (e) => states.push(e),
    ...opts,
  });
  return { sup, states, frames };
}

const nth = (n: number, state: string) => {
  let seen = 0;
  return (e: LadderStateEvent) => e.state === state && ++seen === n;
};

describe('LadderSupervisor', () => {
  it('ffmpeg killed mid-stream: down, restarted, up, and both rungs flow again', async () => {
    const h = harness();
    const feed = feedRealTime(loopTags(clip, 6), (t) => h.sup.push(t.type, t.timestamp, t.payload));
    try {
      await h.states.waitFor('up', (e) => e.state === 'up', 20_000);
      const pid = h.sup.pid!;
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGKILL');
      const down = await h.states.waitFor('down', (e) => e.state === 'down', 10_000);
      expect(down.reason).toContain('SIGKILL');
      await h.states.waitFor('the second up', nth(2, 'up'), 20_000);
      expect(h.sup.pid).not.toBe(pid);
      for (const r of rungs) await h.frames.waitFor(`${r.name} frames after the restart`, (f) => f.rung === r.name && f.ups === 2, 10_000);
      expect(h.states.entries.map((e) => e.state)).toEqual(['starting', 'up', 'down', 'starting', 'up']);
      expect(h.sup.stats().restarts).toBe(1);
    } finally {
      feed.stop();
      h.sup.close();
    }
  });

  it('a wrapper that stops reading its input: detected as behind, restarted, up again', async () => {
    const mark = join(dir, 'hung-once');
    // The first run passes 120 kB to ffmpeg, then holds its input open without reading it; later runs are ffmpeg.
    const wrapper = script(dir, 'hang.sh', `[ -e '${mark}' ] && exec ffmpeg "$@"\ntouch '${mark}'\n{ head -c 120000; sleep 3600; } | ffmpeg "$@"`);
    const h = harness({ ffmpegPath: wrapper, lagLimitMs: 800, lagSustainMs: 300, env: inheritedEnvironment() });
    const feed = feedRealTime(loopTags(clip, 6), (t) => h.sup.push(t.type, t.timestamp, t.payload));
    try {
      const down = await h.states.waitFor('down', (e) => e.state === 'down', 20_000);
      expect(down.reason).toMatch(/^behind: rung output is \d+ ms behind the input/);
      await h.states.waitFor('up after the restart', (e) => e.state === 'up' && e.restarts === 1, 20_000);
      for (const r of rungs) await h.frames.waitFor(`${r.name} frames after the restart`, (f) => f.rung === r.name && f.ups >= 1, 10_000);
    } finally {
      feed.stop();
      h.sup.close();
    }
  });

  it('source timestamps going back (an encoder restart): down, restarted on the new timeline, up', async () => {
    const h = harness();
    // The clip twice, then again from its own timestamps (back by 4 s), three times; at twice real time.
    const tags = [...loopTags(clip, 2), ...loopTags(clip, 3).filter((t) => t.type !== 18 && t.payload[1] !== 0)];
    const feed = feedRealTime(tags, (t) => h.sup.push(t.type, t.timestamp, t.payload), { speed: 2 });
    try {
      await h.states.waitFor('up', (e) => e.state === 'up', 20_000);
      const down = await h.states.waitFor('down', (e) => e.state === 'down', 20_000);
      expect(down.reason).toMatch(/^timestamps-backward: video timestamp went back from \d+ to \d+ ms/);
      await h.states.waitFor('up after the restart', (e) => e.state === 'up' && e.restarts === 1, 20_000);
      // The new process's frames are on the new (earlier) timeline.
      const first = await h.frames.waitFor('a frame after the restart', (f) => f.ups === 2, 10_000);
      expect(first.timestamp).toBeLessThan(4000);
    } finally {
      feed.stop();
      h.sup.close();
    }
  });

  it('end() of a hung ffmpeg: killed after endTimeoutMs, not left behind', async () => {
    const wrapper = script(dir, 'deaf.sh', '{ head -c 50000; sleep 3600; } | ffmpeg "$@"');
    const t = new LadderTranscoder({
      outputs,
      segmentSeconds: 1,
      ffmpegPath: wrapper,
      endTimeoutMs: 300,
      onMessage: () => {},
      env: inheritedEnvironment(),
    });
    for (const tag of clip) t.push(tag.type, tag.timestamp, tag.payload);
    const pid = t.pid!;
    t.end();
    const exit = await withDeadline(t.exited, 'the hung ffmpeg to be killed', 10_000);
    expect(exit.expected).toBe(true);
    expect(exit.signal).toBe('SIGKILL');
    // The whole group (sleep, head, ffmpeg) is gone, once init has reaped the orphans.
    const gone = () => {
      try {
        process.kill(-pid, 0);
        return false;
      } catch {
        return true;
      }
    };
    await waitFor('the process group to be gone', gone, 10_000);
  });

  it('gives up after maxRestarts within the window: failed, and no more processes', async () => {
    const wrapper = script(dir, 'fail.sh', 'echo "simulated failure" >&2\nexit 3');
    const h = harness({ ffmpegPath: wrapper, maxRestarts: 2, restartWindowMs: 60_000 });
    const feed = feedRealTime(loopTags(clip, 6), (t) => h.sup.push(t.type, t.timestamp, t.payload), { speed: 2 });
    try {
      const failed = await h.states.waitFor('failed', (e) => e.state === 'failed', 25_000);
      expect(failed.reason).toContain('exited with code 3: simulated failure');
      expect(h.states.entries.map((e) => e.state)).toEqual(['starting', 'down', 'starting', 'down', 'starting', 'failed']);
      expect(h.sup.spawned).toBe(3);
      expect(h.sup.state).toBe('failed');
    } finally {
      feed.stop();
      h.sup.close();
    }
  });

  it('push() never throws on garbage, and a real stream after it still transcodes', async () => {
    const h = harness();
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const garbage = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
    for (let i = 0; i < 2000; i++) {
      const type = [8, 9, 18, 20, 22, 0, 255][Math.floor(rnd() * 7)];
      const ts = rnd() < 0.1 ? 0xffffffff : Math.floor(rnd() * 2 ** 32);
      const body = rnd() < 0.05 ? Buffer.alloc(0) : garbage(1 + Math.floor(rnd() * 64));
      // Plausible-looking AVC/AAC headers with garbage after them, too.
      if (type === 9 && rnd() < 0.5) body[0] = 0x17;
      if (type === 8 && rnd() < 0.5) body[0] = 0xaf;
      expect(() => h.sup.push(type, ts, body)).not.toThrow();
    }
    const t = new LadderTranscoder({ outputs, segmentSeconds: 1, onMessage: () => {} });
    for (let i = 0; i < 500; i++) expect(() => t.push(9, i, garbage(i % 40))).not.toThrow();
    t.kill();
    h.sup.close();
    // After garbage, the real stream: ffmpeg (spawned at the first real keyframe) makes both rungs.
    const h2 = harness();
    for (let i = 0; i < 200; i++) h2.sup.push(9, i, garbage(1 + (i % 30)));
    const feed = feedRealTime(clip, (tag) => h2.sup.push(tag.type, tag.timestamp, tag.payload), { speed: 4 });
    try {
      for (const r of rungs) await h2.frames.waitFor(`${r.name} frames`, (f) => f.rung === r.name, 20_000);
    } finally {
      feed.stop();
      h2.sup.close();
    }
  });

  it('a ladder of zero rungs spawns nothing and reports nothing', async () => {
    const spawned: ChildProcess[] = [];
    const states: LadderStateEvent[] = [];
    const sup = new LadderSupervisor({
      outputs: [],
      segmentSeconds: 1,
      onMessage: () => {},
      onState: (e) => states.push(e),
      spawn: (cmd, args, o) => {
        const c = spawn(cmd, args, o);
        spawned.push(c);
        return c;
      },
    });
    for (const tag of clip) sup.push(tag.type, tag.timestamp, tag.payload);
    sup.end();
    const t = new LadderTranscoder({
      outputs: [],
      segmentSeconds: 1,
      onMessage: () => {},
      spawn: (cmd, args, o) => {
        const c = spawn(cmd, args, o);
        spawned.push(c);
        return c;
      },
    });
    for (const tag of clip) t.push(tag.type, tag.timestamp, tag.payload);
    t.end();
    await withDeadline(t.exited, 'the empty transcoder to report its end', 1000);
    expect(spawned).toEqual([]);
    expect(states).toEqual([]);
    expect(sup.spawned).toBe(0);
    // The same supervisor with one rung does spawn (the check above can fail).
    const one = new LadderSupervisor({
      outputs: outputs.slice(1),
      segmentSeconds: 1,
      onMessage: () => {},
      onState: (e) => states.push(e),
      spawn: (cmd, args, o) => {
        const c = spawn(cmd, args, o);
        spawned.push(c);
        return c;
      },
    });
    for (const tag of clip.slice(0, 20)) one.push(tag.type, tag.timestamp, tag.payload);
    one.close();
    expect(spawned.length).toBe(1);
  });
});
