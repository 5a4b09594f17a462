import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { parsePlaylist } from '../../ingest/playlist';
import { startLocalStack, type LocalStack } from '../../local/stack';
import type { LocalTask } from '../../local/tasks';
import { startPublisher, waitFor, type Publisher } from '../support/media';

/**
 * Routing under failure, with real processes: ingest tasks, ffmpeg publishers, dynalite. Each test prints the
 * figure it measures (purge time, playback gap) so `npm test` output carries them.
 */
let stack: LocalStack | undefined;
const publishers: Publisher[] = [];

afterEach(async () => {
  for (const p of publishers.splice(0)) p.proc.kill('SIGKILL');
  await stack?.stop();
  stack = undefined;
});

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

describe('task death', () => {
  it('kill -9 mid-stream: every route of the task is gone within 2 s and the origin answers 404', async () => {
    stack = await startLocalStack({ rtmpPort: 0, httpPort: 0, tasks: 1, replaceDeadTasks: false });
    const channel = await stack.createChannel('doomed');
    const [task] = stack.fleet.list();
    publish(rtmpOf(task, channel.streamKey), 30);
    await waitFor('the stream to be live', async () => ((await playlistOf(channel.playbackUrl)).status === 200 ? true : undefined));
    const route = await stack.store.getRoute(channel.playbackId);
    expect(route?.taskArn).toBe(task.taskArn);

    await stack.fleet.signal(task.id, 'SIGKILL');
    const exitedAt = Date.now();
    await waitFor('the route purge', async () => ((await stack!.store.getRoute(channel.playbackId)) ? undefined : true), 2000, 20);
    const purgeMs = Date.now() - exitedAt;
    console.log(`route purge after kill -9: ${purgeMs} ms`);
    expect(purgeMs).toBeLessThan(2000);
    expect(stack.taskEvents.at(-1)).toMatchObject({ status: 'STOPPED', routesPurged: 1 });
    expect((await stack.store.getTask(task.taskArn))?.status).toBe('STOPPED');

    // After the origin's route cache window: 404 with a short negative cache, never a proxy to the dead task.
    await new Promise((r) => setTimeout(r, 1100));
    const res = await fetch(channel.playbackUrl);
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).toBe('public, max-age=1');
  });
});

describe('reconnect to another task', () => {
  it('moves the route, keeps the playback URL, never goes back in sequence, and the old task cannot delete it', async () => {
    stack = await startLocalStack({
      rtmpPort: 0,
      httpPort: 0,
      tasks: 2,
      taskEnv: { KEYFRAME_ROUTE_TTL_SECONDS: '3', KEYFRAME_RECONNECT_GRACE_SECONDS: '4', KEYFRAME_END_LINGER_SECONDS: '1' },
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
        await new Promise((r) => setTimeout(r, 150));
      }
    })();

    await waitFor('three segments from the first task', async () => (segments.length >= 3 ? true : undefined), 15_000);
    const oldRoute = (await stack.store.getRoute(channel.playbackId))!;
    expect(oldRoute.taskArn).toBe(first.taskArn);

    // The publisher drops (no unpublish), and comes back on the other task.
    a.proc.kill('SIGKILL');
    const droppedAt = Date.now();
    const lastOld = segments.at(-1)!;
    publish(rtmpOf(second, channel.streamKey), 30);
    const moved = await waitFor('the route to move', async () => {
      const r = await stack!.store.getRoute(channel.playbackId);
      return r && r.taskArn === second.taskArn ? r : undefined;
    });
    expect(moved.session).not.toBe(oldRoute.session);
    const firstNew = await waitFor(
      'a segment from the new session',
      async () => segments.find((s) => s.name.startsWith(moved.session)),
      15_000,
    );
    console.log(`playback gap on reconnect: ${firstNew.at - lastOld.at} ms between the last old and the first new segment (publisher back ${firstNew.at - droppedAt} ms after the drop)`);

    // The old task's grace ends (4 s); its conditional delete must leave the new route alone.
    await new Promise((r) => setTimeout(r, 5500));
    watching = false;
    await watcher;
    const still = await stack.store.getRoute(channel.playbackId);
    expect(still?.taskArn).toBe(second.taskArn);
    expect(still?.session).toBe(moved.session);
    expect((await playlistOf(channel.playbackUrl)).status).toBe(200);

    // The media sequence never went backwards, and the timeline break is marked.
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]).toBeGreaterThanOrEqual(sequences[i - 1]);
    const newNumbers = segments.filter((s) => s.name.startsWith(moved.session)).map((s) => Number(/_(\d+)\.ts$/.exec(s.name)![1]));
    const oldNumbers = segments.filter((s) => s.name.startsWith(oldRoute.session)).map((s) => Number(/_(\d+)\.ts$/.exec(s.name)![1]));
    expect(Math.min(...newNumbers)).toBeGreaterThan(Math.max(...oldNumbers));
    expect(discontinuity).toBe(true);
  });

  it("a late end-of-publish from the old task never deletes the new route (duplicate publisher: the newer one takes over)", async () => {
    stack = await startLocalStack({
      rtmpPort: 0,
      httpPort: 0,
      tasks: 2,
      // Slow heartbeats, so the old task learns of the takeover only from its own late unpublish.
      taskEnv: { KEYFRAME_ROUTE_TTL_SECONDS: '60', KEYFRAME_END_LINGER_SECONDS: '0.5' },
    });
    const channel = await stack.createChannel('twice');
    const [first, second] = stack.fleet.list();
    const a = publish(rtmpOf(first, channel.streamKey), 30);
    await waitFor('the first publish', async () => ((await stack!.store.getRoute(channel.playbackId))?.taskArn === first.taskArn ? true : undefined));
    publish(rtmpOf(second, channel.streamKey), 30);
    const taken = await waitFor('the takeover', async () => {
      const r = await stack!.store.getRoute(channel.playbackId);
      return r?.taskArn === second.taskArn ? r : undefined;
    });
    // The old publisher now ends cleanly: its task ends the stream and tries its compare-and-delete.
    await a.stop();
    await new Promise((r) => setTimeout(r, 2500));
    expect(await stack.store.getRoute(channel.playbackId)).toMatchObject({ taskArn: second.taskArn, session: taken.session });
    await waitFor('playback from the new task', async () => {
      const { text } = await playlistOf(channel.playbackUrl);
      return text.includes(`${taken.session}_`) ? true : undefined;
    });
  });

  it('kicks the older publisher on another task at its next heartbeat', async () => {
    stack = await startLocalStack({ rtmpPort: 0, httpPort: 0, tasks: 2, taskEnv: { KEYFRAME_ROUTE_TTL_SECONDS: '3' } });
    const channel = await stack.createChannel('dup');
    const [first, second] = stack.fleet.list();
    const a = publish(rtmpOf(first, channel.streamKey), 30);
    await waitFor('the first publish', async () => ((await stack!.store.getRoute(channel.playbackId)) ? true : undefined));
    publish(rtmpOf(second, channel.streamKey), 30);
    const result = await Promise.race([a.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 6000))]);
    expect(result, 'the older publisher was disconnected').toBeDefined();
    expect((await stack.store.getRoute(channel.playbackId))?.taskArn).toBe(second.taskArn);
  });
});

describe('graceful drain', () => {
  it('SIGTERM: refuses new publishes, keeps live ones until the deadline, then ends playlists, removes routes and exits 0', async () => {
    stack = await startLocalStack({
      rtmpPort: 0,
      httpPort: 0,
      tasks: 1,
      replaceDeadTasks: false,
      taskEnv: { KEYFRAME_DRAIN_SECONDS: '3', KEYFRAME_RECONNECT_GRACE_SECONDS: '1' },
    });
    const channel = await stack.createChannel('drained');
    const [task] = stack.fleet.list();
    publish(rtmpOf(task, channel.streamKey), 30);
    await waitFor('the stream to be live', async () => (parsePlaylist((await playlistOf(channel.playbackUrl)).text).segments > 0 ? true : undefined));

    const stopped = stack.fleet.signal(task.id, 'SIGTERM');
    const termAt = Date.now();
    // New publishes are refused: the listener is closed.
    await waitFor('the RTMP listener to close', () =>
      new Promise<true | undefined>((resolve) => {
        const s = connect(task.rtmpPort!, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(undefined)));
        s.once('error', () => resolve(true));
      }),
    2000);
    // The live stream keeps going until the deadline.
    const before = parsePlaylist((await playlistOf(channel.playbackUrl)).text).lastSequence ?? -1;
    await new Promise((r) => setTimeout(r, 2000));
    const during = await playlistOf(channel.playbackUrl);
    expect(during.status).toBe(200);
    expect(parsePlaylist(during.text).lastSequence).toBeGreaterThan(before);

    const exit = await stopped;
    console.log(`drain: task exited ${Date.now() - termAt} ms after SIGTERM (deadline 3 s + 1 s reconnect window)`);
    expect(exit?.exitCode).toBe(0);
    expect(await stack.store.getRoute(channel.playbackId)).toBeUndefined();
  });
});
