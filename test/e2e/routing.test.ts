import { afterEach, describe, expect, it } from 'vitest';
import { parsePlaylist } from '../../ingest/playlist';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack';
import type { LocalTask } from '../../local/tasks';
import { startPublisher, type Publisher } from '../support/media';
import { ingestEnv } from '../support/settings';
import { taskLogs, type TaskLogRecord } from '../support/task-logs';
import { waitFor, withDeadline } from '../support/wait';

/**
 * Routing under failure, with real processes: ingest tasks, ffmpeg publishers, dynalite. Each test waits on what
 * the parts do (a task's exit, its log records, the table, the origin's answers), never for a fixed time, and
 * prints the figure it measures (purge time, playback gap) so `npm test` output carries them.
 */
let stack: LocalStack | undefined;
const publishers: Publisher[] = [];

afterEach(async () => {
  for (const p of publishers.splice(0)) p.proc.kill('SIGKILL');
  if (stack) {
    // Marks the stack as stopping first (no replacement task starts), then ends the tasks at once: their drain is
    // what one test above is about, not every test's teardown.
    const stopped = stack.stop();
    for (const t of stack.fleet.list()) if (t.status !== 'STOPPED') void stack.fleet.signal(t.id, 'SIGKILL');
    await stopped;
  }
  stack = undefined;
});

/** A local stack whose tasks log at INFO into `logs` (the test run itself is SILENT). */
async function startStack(opts: LocalStackOptions): Promise<{ stack: LocalStack; logs: ReturnType<typeof taskLogs> }> {
  const logs = taskLogs();
  const taskEnv = { ...ingestEnv({ logLevel: 'INFO' }), ...opts.taskEnv };
  stack = await startLocalStack({ rtmpPort: 0, httpPort: 0, ...opts, taskEnv, onTaskLog: logs.onTaskLog });
  return { stack, logs };
}

const rtmpOf = (task: LocalTask, key: string) => `rtmp://127.0.0.1:${task.rtmpPort}/live/${key}`;

async function playlistOf(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: res.status === 200 ? await res.text() : '' };
}

function publish(url: string, seconds: number): Publisher {
  const p = startPublisher({ url, seconds, gopSeconds: 1 });
  publishers.push(p);
  return p;
}

/** A record `task` logged with this message. */
const fromTask = (task: LocalTask, message: string) => (r: TaskLogRecord) => r.taskArn === task.taskArn && r.message === message;
/** The record a task logs when a stream of it ends: after its compare-and-delete of the route (`routeRemoved`). */
const streamEnded = (task: LocalTask, session: string) => (r: TaskLogRecord) => fromTask(task, 'stream ended')(r) && r.session === session;

describe('task death', () => {
  it('kill -9 mid-stream: the STOPPED event purges every route of the task, long before expiry, and the origin answers 404', async () => {
    const { stack } = await startStack({ tasks: 1, replaceDeadTasks: false });
    const channel = await stack.createChannel('doomed');
    const [task] = stack.fleet.list();
    publish(rtmpOf(task, channel.streamKey), 30);
    await waitFor('the stream to be live', async () => (await playlistOf(channel.playbackUrl)).status === 200);
    const route = await stack.store.getRoute(channel.playbackId);
    expect(route?.taskArn).toBe(task.taskArn);

    await stack.fleet.signal(task.id, 'SIGKILL');
    const exitedAt = Date.now();
    // dynalite never expires items: the route goes only if something deletes it.
    await waitFor('the route purge', async () => !(await stack.store.getRoute(channel.playbackId)), { timeoutMs: 10_000, everyMs: 20 });
    const purgeMs = Date.now() - exitedAt;
    console.log(`route purge after kill -9: ${purgeMs} ms`);
    // The purge came from the task's STOPPED event, not from the route running out.
    expect(exitedAt + purgeMs).toBeLessThan(route!.expiresAt);
    const isStopped = (e: (typeof stack.taskEvents)[number]) => e.taskArn === task.taskArn && e.status === 'STOPPED';
    const stopped = await waitFor('the STOPPED event outcome', () => stack.taskEvents.find(isStopped));
    expect(stopped).toMatchObject({ result: 'applied', routesPurged: 1 });
    expect((await stack.store.getTask(task.taskArn))?.status).toBe('STOPPED');

    // Once the origin's route cache lets go: 404 with a short negative cache. Until then, at most a 502 from the dead
    // task's refused connection; never a 200.
    const statuses = new Set<number>();
    const gone = await waitFor(
      'the origin to answer 404',
      async () => {
        const res = await fetch(channel.playbackUrl);
        statuses.add(res.status);
        return res.status === 404 ? res : undefined;
      },
      { timeoutMs: 10_000, detail: () => `statuses seen: ${[...statuses].join(', ')}` },
    );
    expect(gone.headers.get('cache-control')).toBe('public, max-age=1');
    expect([...statuses].filter((s) => s !== 404 && s !== 502)).toEqual([]);
  });
});

describe('reconnect to another task', () => {
  it('moves the route, keeps the playback URL, never goes back in sequence, and the old task cannot delete it', async () => {
    const { stack, logs } = await startStack({
      tasks: 2,
      // Heartbeats every 100 s: the old task learns of the move only from its own compare-and-delete, when its
      // reconnect grace ends (4 s), which must then be refused.
      taskEnv: ingestEnv({ routeTtlSeconds: 300, reconnectGraceSeconds: 4, endLingerSeconds: 1 }),
    });
    const channel = await stack.createChannel('mover');
    const [first, second] = stack.fleet.list();
    const a = publish(rtmpOf(first, channel.streamKey), 30);

    // Watch the playlist the whole time, as a player would.
    const sequences: number[] = [];
    const segments: Array<{ name: string; at: number }> = [];
    let discontinuity = false;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const { status, text } = await playlistOf(channel.playbackUrl);
        if (status === 200) {
          const info = parsePlaylist(text);
          sequences.push(info.mediaSequence);
          if (text.includes('#EXT-X-DISCONTINUITY')) discontinuity = true;
          for (const line of text.split('\n')) {
            if (line && !line.startsWith('#') && !segments.some((s) => s.name === line)) segments.push({ name: line, at: Date.now() });
          }
        }
        // A player's poll interval, not a wait: nothing is asserted after it.
        await new Promise((r) => setTimeout(r, 150));
      }
    })();

    let oldSession = '';
    let newSession = '';
    try {
      await waitFor('three segments from the first task', () => segments.length >= 3);
      const oldRoute = (await stack.store.getRoute(channel.playbackId))!;
      oldSession = oldRoute.session;
      expect(oldRoute.taskArn).toBe(first.taskArn);

      // The publisher drops (no unpublish), and comes back on the other task.
      a.proc.kill('SIGKILL');
      const droppedAt = Date.now();
      const lastOld = segments.at(-1)!;
      publish(rtmpOf(second, channel.streamKey), 30);
      const moved = await waitFor('the route to move', async () => {
        const r = await stack.store.getRoute(channel.playbackId);
        return r && r.taskArn === second.taskArn ? r : undefined;
      });
      expect(moved.session).not.toBe(oldRoute.session);
      newSession = moved.session;
      const firstNew = await waitFor('a segment from the new session', () => segments.find((s) => s.name.startsWith(moved.session)));
      console.log(
        `playback gap on reconnect: ${firstNew.at - lastOld.at} ms between the last old and the first new segment ` +
          `(publisher back ${firstNew.at - droppedAt} ms after the drop)`,
      );

      // The old task's grace ends: it tries its compare-and-delete, which the new route refuses.
      const ended = await logs.waitFor("the old task's end of stream (its compare-and-delete)", streamEnded(first, oldRoute.session), 20_000);
      expect(ended.why, 'the old stream ended because its grace ran out').toMatch(/no reconnect$/);
      expect(ended.routeRemoved, "the old task's conditional delete was refused (false would be its own, older route)").toBe(false);
      expect(logs.filter(fromTask(first, 'publish superseded')), 'no heartbeat told the old task first').toEqual([]);
      const still = await stack.store.getRoute(channel.playbackId);
      expect(still?.taskArn).toBe(second.taskArn);
      expect(still?.session).toBe(moved.session);
      expect((await playlistOf(channel.playbackUrl)).status).toBe(200);
    } finally {
      watching = false;
      await watcher;
    }

    // The media sequence never went backwards, and the timeline break is marked.
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]).toBeGreaterThanOrEqual(sequences[i - 1]);
    const numbersOf = (session: string) => segments.filter((s) => s.name.startsWith(session)).map((s) => Number(/_(\d+)\.m4s$/.exec(s.name)![1]));
    expect(Math.min(...numbersOf(newSession))).toBeGreaterThan(Math.max(...numbersOf(oldSession)));
    expect(discontinuity).toBe(true);
  });

  it('a late end-of-publish from the old task never deletes the new route (duplicate publisher: the newer one takes over)', async () => {
    const { stack, logs } = await startStack({
      tasks: 2,
      // Heartbeats every 100 s: the old task learns of the takeover only from its own late end of publish.
      taskEnv: ingestEnv({ routeTtlSeconds: 300, endLingerSeconds: 0.5, reconnectGraceSeconds: 1 }),
    });
    const channel = await stack.createChannel('twice');
    const [first, second] = stack.fleet.list();
    const a = publish(rtmpOf(first, channel.streamKey), 30);
    const original = await waitFor('the first publish', async () => {
      const r = await stack.store.getRoute(channel.playbackId);
      return r?.taskArn === first.taskArn ? r : undefined;
    });
    publish(rtmpOf(second, channel.streamKey), 30);
    const taken = await waitFor('the takeover', async () => {
      const r = await stack.store.getRoute(channel.playbackId);
      return r?.taskArn === second.taskArn ? r : undefined;
    });

    // The old publisher now ends: its task ends the stream and tries its compare-and-delete, which is refused.
    await a.stop();
    const ended = await logs.waitFor("the old task's end of stream (its compare-and-delete)", streamEnded(first, original.session), 20_000);
    // An unpublish, or, should the server see ffmpeg's exit as a disconnect, the end of a 1 s grace: a late end either way.
    expect(ended.why).toMatch(/^(unpublish|disconnect, no reconnect)$/);
    expect(ended.routeRemoved, "the old task's conditional delete was refused").toBe(false);
    expect(logs.filter(fromTask(first, 'publish superseded')), 'no heartbeat told the old task first').toEqual([]);
    expect(await stack.store.getRoute(channel.playbackId)).toMatchObject({ taskArn: second.taskArn, session: taken.session });
    await waitFor('playback from the new task', async () => (await playlistOf(channel.playbackUrl)).text.includes(`${taken.session}_`));
  });

  it('kicks the older publisher on another task at its next heartbeat', async () => {
    const { stack, logs } = await startStack({ tasks: 2, taskEnv: ingestEnv({ routeTtlSeconds: 3 }) });
    const channel = await stack.createChannel('dup');
    const [first, second] = stack.fleet.list();
    const a = publish(rtmpOf(first, channel.streamKey), 30);
    await waitFor('the first publish', async () => (await stack.store.getRoute(channel.playbackId))?.taskArn === first.taskArn);
    publish(rtmpOf(second, channel.streamKey), 30);
    // Heartbeats every second: the old task's conditional heartbeat fails, and it gives way.
    const superseded = await logs.waitFor('the older publish to be superseded', fromTask(first, 'publish superseded'), 20_000);
    expect(superseded.why).toBe('the route moved to a newer publish');
    await withDeadline(a.exited, 'the older publisher to be disconnected', 15_000);
    expect((await stack.store.getRoute(channel.playbackId))?.taskArn).toBe(second.taskArn);
  });
});

describe('graceful drain', () => {
  it('SIGTERM: refuses new publishes, keeps live ones until the deadline, then ends playlists, removes routes and exits 0', async () => {
    const { stack, logs } = await startStack({
      tasks: 1,
      replaceDeadTasks: false,
      taskEnv: ingestEnv({ drainSeconds: 3, reconnectGraceSeconds: 1 }),
    });
    const channel = await stack.createChannel('drained');
    const [task] = stack.fleet.list();
    publish(rtmpOf(task, channel.streamKey), 30);
    await waitFor('the stream to be live', async () => parsePlaylist((await playlistOf(channel.playbackUrl)).text).segments > 0);

    const stopped = stack.fleet.signal(task.id, 'SIGTERM');
    const termAt = Date.now();
    await logs.waitFor('the task to start draining', fromTask(task, 'draining on signal'), 10_000);
    // New publishes are refused, with a reason the publisher shows (OBS and ffmpeg print the server's error).
    const other = await stack.createChannel('latecomer');
    const late = await withDeadline(publish(rtmpOf(task, other.streamKey), 30).exited, 'the late publisher to be refused', 15_000);
    expect(late.code).not.toBe(0);
    expect(late.stderr).toMatch(/Server is draining; reconnect to another server/);
    // The live stream keeps going: its playlist grows while the task drains...
    const before = parsePlaylist((await playlistOf(channel.playbackUrl)).text).lastSequence ?? -1;
    await waitFor('a new segment while the task drains', async () => {
      const during = await playlistOf(channel.playbackUrl);
      return during.status === 200 && (parsePlaylist(during.text).lastSequence ?? -1) > before;
    });
    // ...until the deadline, where the task disconnects it (it was still live then).
    const deadline = await logs.waitFor('the drain deadline', (r) => r.taskArn === task.taskArn && r.message.startsWith('drain deadline'), 20_000);
    expect(deadline.kicked).toBe(1);

    const exit = await withDeadline(stopped, 'the task to exit after its drain', 20_000);
    console.log(`drain: task exited ${Date.now() - termAt} ms after SIGTERM (deadline 3 s + 1 s reconnect window)`);
    expect(exit?.exitCode).toBe(0);
    expect(await logs.waitFor('the drained record', fromTask(task, 'drained'))).toMatchObject({ ended: 1 });
    expect(await stack.store.getRoute(channel.playbackId)).toBeUndefined();
  });
});
