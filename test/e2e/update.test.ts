import { afterEach, describe, expect, it } from 'vitest';
import { parsePlaylist } from '../../ingest/playlist';
import { startLocalStack, type LocalStack } from '../../local/stack';
import type { LocalTask } from '../../local/tasks';
import { startPublisher, type Publisher } from '../support/media';
import { ingestEnv } from '../support/settings';
import { taskLogs, type TaskLogRecord } from '../support/task-logs';
import { EventLog, waitFor, withDeadline } from '../support/wait';

/**
 * A "new version" of the fleet while a publisher is live (docs/deploy.md, "Updating while streams are live"), with
 * real processes: the old tasks learn of the new deployment through the same decision as on ECS
 * (ingest/deployment.ts), stop taking publishes, drain, ask their publisher to move, and exit; the stream goes on at
 * the same playback URL on a new task.
 */
const DRAIN_SECONDS = 2;
const RECONNECT_GRACE_SECONDS = 2;
/** The ECS stop timeout's headroom over the drain (infra/config.ts STOP_TIMEOUT_HEADROOM_SECONDS). */
const MARGIN_SECONDS = 10;

let stack: LocalStack | undefined;
let publisher: ReconnectingPublisher | undefined;

afterEach(async () => {
  await publisher?.stop();
  publisher = undefined;
  if (stack) {
    const stopped = stack.stop();
    for (const t of stack.fleet.list()) if (t.status !== 'STOPPED') void stack.fleet.signal(t.id, 'SIGKILL');
    await stopped;
  }
  stack = undefined;
});

interface ReconnectingPublisher {
  /** Each ffmpeg run, with when it started and how it ended. */
  readonly runs: EventLog<{ started: number; exit?: { code: number | null; signal: NodeJS.Signals | null; stderr: string } }>;
  stop(): Promise<void>;
}

/**
 * ffmpeg does not reconnect by itself: like OBS's auto-reconnect, this restarts it when it exits, on the same URL
 * (the balancer's). A bounded number of restarts, so a refusal loop fails the test instead of spinning.
 */
function reconnectingPublisher(url: string, maxRuns = 10): ReconnectingPublisher {
  const runs = new EventLog<{ started: number; exit?: { code: number | null; signal: NodeJS.Signals | null; stderr: string } }>();
  let current: Publisher | undefined;
  let stopped = false;
  const run = () => {
    const entry: { started: number; exit?: { code: number | null; signal: NodeJS.Signals | null; stderr: string } } = { started: Date.now() };
    const p = startPublisher({ url, seconds: 120, gopSeconds: 1 });
    current = p;
    runs.push(entry);
    void p.exited.then((exit) => {
      entry.exit = exit;
      if (!stopped && runs.entries.length < maxRuns) run();
    });
  };
  run();
  return {
    runs,
    async stop() {
      stopped = true;
      current?.proc.kill('SIGKILL');
      await current?.exited;
    },
  };
}

interface Poll {
  readonly at: number;
  readonly status: number;
  readonly mediaSequence?: number;
  readonly lastSequence?: number;
  readonly text: string;
}

/** A record `task` logged with this message. */
const fromTask = (task: LocalTask, message: string) => (r: TaskLogRecord) => r.taskArn === task.taskArn && r.message === message;
const loggedAt = (r: TaskLogRecord) => Date.parse(String(r.timestamp));

describe('updating the fleet while a publisher is live', () => {
  it('old tasks stop taking publishes and exit 0 within the drain; the publisher moves; the playback URL keeps playing', async () => {
    const logs = taskLogs();
    stack = await startLocalStack({
      rtmpPort: 0,
      httpPort: 0,
      tasks: 2,
      taskEnv: ingestEnv({
        logLevel: 'INFO',
        drainSeconds: DRAIN_SECONDS,
        reconnectGraceSeconds: RECONNECT_GRACE_SECONDS,
        endLingerSeconds: 1,
        deploymentPollSeconds: 0.25,
      }),
      onTaskLog: logs.onTaskLog,
    });
    const s = stack;
    const channel = await s.createChannel('through-a-deploy');
    const oldTasks = s.fleet.list();
    const readyAt = new Map<string, number>();
    s.fleet.on('running', (t: LocalTask) => readyAt.set(t.taskArn, Date.now()));
    publisher = reconnectingPublisher(channel.publishUrl);

    // A player on the playback URL, the whole time.
    const polls: Poll[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const res = await fetch(channel.playbackUrl).catch(() => undefined);
        const text = res?.status === 200 ? await res.text() : '';
        const info = text ? parsePlaylist(text) : undefined;
        polls.push({ at: Date.now(), status: res?.status ?? 0, mediaSequence: info?.mediaSequence, lastSequence: info?.lastSequence, text });
        // A player's poll interval, not a wait: nothing is asserted after it.
        await new Promise((r) => setTimeout(r, 150));
      }
    })();

    try {
      const before = await waitFor('the stream to be live on an old task', async () => {
        const route = await s.store.getRoute(channel.playbackId);
        const live = polls.some((p) => p.status === 200 && (p.lastSequence ?? -1) >= 2);
        return route && live ? route : undefined;
      });
      const liveTask = oldTasks.find((t) => t.taskArn === before.taskArn)!;
      expect(liveTask, 'the route points at one of the old tasks').toBeDefined();

      const rolledAt = Date.now();
      const roll = await s.rollTasks();
      expect(roll.superseded.map((t) => t.id).sort()).toEqual(oldTasks.map((t) => t.id).sort());
      expect(roll.started).toHaveLength(oldTasks.length);
      expect(roll.started.every((t) => t.deploymentId === roll.deploymentId)).toBe(true);
      const newArns = new Set(roll.started.map((t) => t.taskArn));

      // Each old task is told by the same decision as on ECS, once the new tasks all run, and drains.
      const supersededRecords = await Promise.all(
        oldTasks.map((t) => logs.waitFor(`${t.id} to learn it is superseded`, fromTask(t, 'draining: superseded by a newer deployment'))),
      );
      for (const r of supersededRecords) expect(r.reason).toMatch(new RegExp(`replaced by ${roll.deploymentId}$`));
      const newReady = Math.max(...roll.started.map((t) => readyAt.get(t.taskArn)!));
      expect(Math.min(...supersededRecords.map(loggedAt)), 'no old task drained before the new ones all ran').toBeGreaterThanOrEqual(newReady);
      // Its health check fails now, so the NLB would stop sending it publishes (the local balancer already has).
      const health = await fetch(`http://127.0.0.1:${liveTask.healthPort}/healthz`);
      expect(health.status).toBe(503);
      expect(
        s.fleet
          .serving()
          .map((t) => t.taskArn)
          .sort(),
      ).toEqual([...newArns].sort());

      // The drain deadline asks the live publisher to move; it comes back through the balancer on a new task.
      const deadline = await logs.waitFor(
        'the drain deadline on the live task',
        (r) => r.taskArn === liveTask.taskArn && r.message.startsWith('drain deadline'),
      );
      expect(deadline.kicked).toBe(1);
      const moved = await waitFor('the route to move to a new task', async () => {
        const r = await s.store.getRoute(channel.playbackId);
        return r && newArns.has(r.taskArn) ? r : undefined;
      });
      expect(moved.session).not.toBe(before.session);
      expect(publisher.runs.entries.length, 'ffmpeg was restarted after the old task let it go').toBeGreaterThanOrEqual(2);
      await waitFor('playback from the new session', () => polls.some((p) => p.text.includes(`${moved.session}_`)), 20_000);

      // Every old task exits 0 within drain + margin of learning it was superseded.
      const exits = await Promise.all(
        oldTasks.map((t) => withDeadline(s.fleet.whenStopped(t.id), `${t.id} to exit`, (DRAIN_SECONDS + MARGIN_SECONDS) * 1000 + 5_000)),
      );
      const stoppedAt = Date.now();
      for (const [i, exit] of exits.entries()) {
        expect(exit?.exitCode, `${oldTasks[i].id} exit code`).toBe(0);
        expect(stoppedAt - loggedAt(supersededRecords[i]), `${oldTasks[i].id} drain time`).toBeLessThan((DRAIN_SECONDS + MARGIN_SECONDS) * 1000);
      }
      // The old session gave way without touching the new route: its heartbeat saw the move first ('publish
      // superseded'), or its end of stream's compare-and-delete was refused.
      const oldEnd = await logs.waitFor(
        "the old session's end",
        (r) => r.taskArn === liveTask.taskArn && r.session === before.session && (r.message === 'stream ended' || r.message === 'publish superseded'),
      );
      if (oldEnd.message === 'stream ended') expect(oldEnd.routeRemoved).toBe(false);
      else expect(oldEnd.why).toBe('the route moved to a newer publish');
      expect(await s.store.getRoute(channel.playbackId)).toMatchObject({ taskArn: moved.taskArn, session: moved.session });
      // The new tasks are not replaced, nor the old ones.
      expect(
        s.fleet
          .list()
          .filter((t) => t.status !== 'STOPPED')
          .map((t) => t.taskArn)
          .sort(),
      ).toEqual([...newArns].sort());
      const lastOld = supersededRecords.map(loggedAt).reduce((a, b) => Math.max(a, b));
      console.log(
        `update while live: old tasks exited ${stoppedAt - lastOld} ms after learning they were superseded ` +
          `(drain ${DRAIN_SECONDS} s + reconnect window ${RECONNECT_GRACE_SECONDS} s); whole roll ${stoppedAt - rolledAt} ms`,
      );
    } finally {
      watching = false;
      await watcher;
    }

    // The same playback URL played throughout: the media sequence never went back, and at most one short gap.
    const ok = polls.filter((p) => p.status === 200);
    for (let i = 1; i < ok.length; i++) expect(ok[i].mediaSequence!, `poll ${i}`).toBeGreaterThanOrEqual(ok[i - 1].mediaSequence!);
    const firstOk = polls.findIndex((p) => p.status === 200);
    const gaps: Array<{ from: number; to: number; statuses: number[] }> = [];
    for (let i = firstOk; i < polls.length; i++) {
      if (polls[i].status === 200) continue;
      const from = polls[i - 1].at;
      let j = i;
      while (j < polls.length && polls[j].status !== 200) j++;
      gaps.push({ from, to: j < polls.length ? polls[j].at : polls[j - 1].at, statuses: polls.slice(i, j).map((p) => p.status) });
      i = j;
    }
    console.log(`playback gaps during the roll: ${JSON.stringify(gaps.map((g) => ({ ms: g.to - g.from, statuses: [...new Set(g.statuses)] })))}`);
    expect(gaps.length, 'at most one gap in playback').toBeLessThanOrEqual(1);
    for (const g of gaps) expect(g.to - g.from, 'the gap is short').toBeLessThan(8_000);
    expect(polls.at(-1)?.status, 'still playing at the end').toBe(200);
  });
});
