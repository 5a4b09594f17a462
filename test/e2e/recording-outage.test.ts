import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordingS3Client } from '../../ingest/recorder';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { startPublisher } from '../support/media';
import { cliFor, downloadAndDecode, listRecordingsJson } from '../support/recordings';
import { taskLogs } from '../support/task-logs';
import { waitFor } from '../support/wait';

/**
 * Nothing lost when S3 is down (issue 15): the local S3-compatible server is stopped for 20 s in the middle of a
 * recorded publish and started again. The recorder spools and retries; the recording ends complete, with no
 * gap; and live playback through the origin never stalls meanwhile (the live edge never waits for S3).
 */
const OUTAGE_MS = 20_000;
let stack: LocalStack;
let s3: S3Client;
let cli: Awaited<ReturnType<typeof cliFor>>;
const logs = taskLogs();

beforeAll(async () => {
  stack = await startLocalStack({
    rtmpPort: 0,
    httpPort: 0,
    taskEnv: { KEYFRAME_END_LINGER_SECONDS: '0', KEYFRAME_THUMBNAIL_SECONDS: '0', KEYFRAME_LOG_LEVEL: 'INFO', KEYFRAME_DRAIN_SECONDS: '30' },
    onTaskLog: logs.onTaskLog,
  });
  s3 = createRecordingS3Client({ endpoint: stack.s3.endpoint });
  cli = await cliFor(stack);
}, 60_000);

afterAll(async () => {
  cli?.restore();
  s3?.destroy();
  await stack?.stop();
});

describe('recording while S3 is down', () => {
  it('keeps every segment through a 20 s outage, and live playback keeps going', { timeout: 120_000 }, async () => {
    const channel = await stack.createChannel('rec-outage', { record: true });
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 32, gopSeconds: 1 });
    const live = await waitFor('the recording listed', async () => (await listRecordingsJson(cli.run, 'rec-outage'))[0], { timeoutMs: 20_000 });

    // Follow the live playlist through the origin while S3 is down: every new segment fetched, and how long the
    // edge went without a new one.
    const playlistUrl = channel.playbackUrl;
    const seen = new Set<string>();
    const statuses: { at: number; status: number }[] = [];
    let lastNewAt = Date.now();
    let longestWaitMs = 0;
    let following = true;
    const follow = (async () => {
      while (following) {
        const res = await fetch(playlistUrl);
        statuses.push({ at: Date.now(), status: res.status });
        const text = await res.text();
        const now = Date.now();
        for (const uri of text.split('\n').filter((l) => l.endsWith('.m4s'))) {
          if (seen.has(uri)) continue;
          seen.add(uri);
          const seg = await fetch(new URL(uri, playlistUrl));
          statuses.push({ at: Date.now(), status: seg.status });
          await seg.arrayBuffer();
          longestWaitMs = Math.max(longestWaitMs, now - lastNewAt);
          lastNewAt = now;
        }
        await new Promise((r) => setTimeout(r, 200)); // the poll cadence of a player, not a wait for a state
      }
    })();

    await stack.s3.stop();
    const downAt = Date.now();
    const segmentsBefore = seen.size;
    // The outage is real to the recorder: its uploads fail and it goes on retrying.
    await logs.waitFor('a failed upload', (r) => r.message === 'recording upload failed; retrying', OUTAGE_MS - 2000);
    await waitFor('the outage to last 20 s', () => Date.now() - downAt >= OUTAGE_MS || undefined, { timeoutMs: OUTAGE_MS + 5000, everyMs: 250 });
    await stack.s3.start();
    const upAt = Date.now();
    const segmentsDuringOutage = seen.size - segmentsBefore;

    expect((await publisher.exited).code).toBe(0);
    following = false;
    await follow;
    // Live playback went on: ~20 new segments while S3 was down, never more than ~2 segment durations without one.
    expect(segmentsDuringOutage).toBeGreaterThanOrEqual(17);
    expect(longestWaitMs).toBeLessThan(2500);
    // Every request while S3 was down was answered (after the publish ends, the playlist 404s: not counted).
    const duringOutage = statuses.filter((s) => s.at >= downAt && s.at <= upAt);
    expect(duringOutage.length).toBeGreaterThan(40);
    expect(duringOutage.filter((s) => s.status !== 200)).toEqual([]);

    const ready = await waitFor(
      'the recording complete',
      async () => (await listRecordingsJson(cli.run, 'rec-outage')).find((r) => r.id === live.id && r.state !== 'recording'),
      { timeoutMs: 30_000 },
    );
    expect(ready.state).toBe('ready');
    expect(ready.gaps).toEqual([]);
    const { playlist, errors, frames } = await downloadAndDecode(s3, stack.recordingBucket, `recordings/${ready.playbackId}/${ready.id}/`);
    const total = playlist.segments.reduce((t, s) => t + s.duration, 0);
    expect(total).toBeGreaterThanOrEqual(31);
    expect(total).toBeLessThanOrEqual(33);
    // No discontinuity: the outage left no hole.
    expect(playlist.segments.filter((s, i) => i > 0 && s.discontinuity)).toEqual([]);
    expect(errors).toBe('');
    expect(frames).toBeGreaterThanOrEqual(Math.floor((total - 1) * 30));
  });

  it('a draining task waits for its uploads: S3 down when it is told to stop, back 3 s later, then it exits', { timeout: 60_000 }, async () => {
    const channel = await stack.createChannel('rec-drain', { record: true });
    const task = stack.fleet.serving()[0];
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 6, gopSeconds: 1 });
    const listed = await waitFor('the recording listed', async () => (await listRecordingsJson(cli.run, 'rec-drain'))[0], { timeoutMs: 20_000 });
    await stack.s3.stop();
    expect((await publisher.exited).code).toBe(0);
    // The publish is over; its last segments (and the VOD playlist) wait in the spool for S3.
    const stopped = stack.fleet.signal(task.id, 'SIGTERM');
    await logs.waitFor('the drain to begin', (r) => r.taskArn === task.taskArn && r.message === 'draining');
    let exitedAt: number | undefined;
    void stopped.then(() => (exitedAt = Date.now()));
    const backAt = await new Promise<number>((resolve) => setTimeout(() => resolve(Date.now()), 3000)); // the outage's length, not a wait for a state
    expect(exitedAt, 'the task exited while its uploads were still waiting for S3').toBeUndefined();
    await stack.s3.start();
    const exited = await stopped;
    expect(exited?.exitCode).toBe(0);
    expect(exitedAt!).toBeGreaterThanOrEqual(backAt);
    // The recording was finished by the task that drained: ready, no gap, as long as published.
    const done = await waitFor('the recording ready', async () =>
      (await listRecordingsJson(cli.run, 'rec-drain')).find((r) => r.id === listed.id && r.state === 'ready'),
    );
    expect(done.gaps).toEqual([]);
    const { playlist, errors } = await downloadAndDecode(s3, stack.recordingBucket, `recordings/${done.playbackId}/${done.id}/`);
    expect(playlist.ended).toBe(true);
    expect(errors).toBe('');
    expect(playlist.segments.reduce((t, s) => t + s.duration, 0)).toBeGreaterThanOrEqual(5);
  });
});
