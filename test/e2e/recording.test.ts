import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordingView } from '../../cli/recordings';
import { createRecordingS3Client } from '../../ingest/recorder';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { startPublisher } from '../support/media';
import { cliFor, downloadAndDecode, listRecordingsJson } from '../support/recordings';
import { waitFor } from '../support/wait';

/**
 * Recording end to end (issue 15): real ffmpeg publishers through the local stack's balancer into an ingest
 * task, whose recorder uploads the packager's segments to the local S3-compatible server (s3rver) and writes the
 * recording's item to the table; `keyframe recordings list --json` reads it back as a user would.
 */
const WINDOW_SECONDS = 6;
let stack: LocalStack;
let s3: S3Client;
let cli: Awaited<ReturnType<typeof cliFor>>;

beforeAll(async () => {
  stack = await startLocalStack({
    rtmpPort: 0,
    httpPort: 0,
    taskEnv: { KEYFRAME_END_LINGER_SECONDS: '0', KEYFRAME_RECORDING_RECONNECT_WINDOW_SECONDS: String(WINDOW_SECONDS) },
  });
  s3 = createRecordingS3Client({ endpoint: stack.s3.endpoint });
  cli = await cliFor(stack);
}, 60_000);

afterAll(async () => {
  cli?.restore();
  s3?.destroy();
  await stack?.stop();
});

const prefixOf = (r: Pick<RecordingView, 'playbackId' | 'id'>) => `recordings/${r.playbackId}/${r.id}/`;

describe('recording', () => {
  it.concurrent('a 20 s publish to a recorded channel is ready within 5 s of its end, as long as published, and decodes', async () => {
    const channel = await stack.createChannel('rec-20s', { record: true });
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 20, gopSeconds: 1 });
    const live = await waitFor('the recording listed while live', async () => (await listRecordingsJson(cli.run, 'rec-20s'))[0], {
      timeoutMs: 20_000,
    });
    expect(live.state).toBe('recording');
    const status = JSON.parse(await cli.run('status', 'rec-20s', '--json')) as { record: boolean; recordingId?: string; thumbnailUrl?: string }[];
    expect(status[0]).toMatchObject({ record: true, recordingId: live.id });

    const exit = await publisher.exited;
    expect(exit.code, exit.stderr).toBe(0);
    const endedAt = Date.now();
    const ready = await waitFor(
      'the recording ready',
      async () => (await listRecordingsJson(cli.run, 'rec-20s')).find((r) => r.id === live.id && r.state === 'ready'),
      { timeoutMs: 5000 },
    );
    const readyAfterMs = Date.now() - endedAt;
    expect(readyAfterMs).toBeLessThan(5000);
    expect(ready.gaps).toEqual([]);
    expect(ready.playbackUrl).toBe(`${stack.urls.playbackBaseUrl}/${prefixOf(ready)}index.m3u8`);

    const { playlist, frames, errors, decodedSeconds } = await downloadAndDecode(s3, stack.recordingBucket, prefixOf(ready));
    expect(playlist.type).toBe('VOD');
    expect(playlist.ended).toBe(true);
    const total = playlist.segments.reduce((t, s) => t + s.duration, 0);
    // The published time ± one segment (1 s segments on the local stack).
    expect(total).toBeGreaterThanOrEqual(19);
    expect(total).toBeLessThanOrEqual(21);
    expect(ready.segmentCount).toBe(playlist.segments.length);
    expect(Math.abs(ready.durationSeconds - total)).toBeLessThan(0.01);
    expect(errors).toBe('');
    // 30 fps for the recorded time, give or take a segment: every segment decoded.
    expect(frames).toBeGreaterThanOrEqual(Math.floor((total - 1) * 30));
    expect(decodedSeconds).toBeGreaterThan(total - 1);
  });

  it.concurrent('a reconnect within the window continues the recording with a discontinuity; after the window, a new one', async () => {
    const channel = await stack.createChannel('rec-reconnect', { record: true });
    const first = startPublisher({ url: channel.publishUrl, seconds: 4, gopSeconds: 1 });
    expect((await first.exited).code).toBe(0);
    const one = await waitFor('the first publish recorded', async () =>
      (await listRecordingsJson(cli.run, 'rec-reconnect')).find((r) => r.state === 'ready'),
    );
    // Within the window: the same recording, reopened.
    const second = startPublisher({ url: channel.publishUrl, seconds: 4, gopSeconds: 1 });
    expect((await second.exited).code).toBe(0);
    const secondEnd = Date.now();
    const joined = await waitFor('the reconnect recorded into the same recording', async () => {
      const list = await listRecordingsJson(cli.run, 'rec-reconnect');
      const r = list.find((x) => x.id === one.id);
      return list.length === 1 && r?.state === 'ready' && r.segmentCount > one.segmentCount ? r : undefined;
    });
    const { playlist, errors } = await downloadAndDecode(s3, stack.recordingBucket, prefixOf(joined));
    expect(errors).toBe('');
    const breaks = playlist.segments.filter((s, i) => i > 0 && s.discontinuity);
    expect(breaks.length).toBe(1);
    // The second publish's segments follow the discontinuity, with that publish's own init.
    const at = playlist.segments.indexOf(breaks[0]);
    expect(playlist.segments[at].map).not.toBe(playlist.segments[at - 1].map);

    // After the window: a second recording. The window is time itself, so this waits it out.
    await waitFor('the reconnect window over', () => Date.now() - secondEnd > (WINDOW_SECONDS + 1) * 1000 || undefined, {
      timeoutMs: (WINDOW_SECONDS + 5) * 1000,
      everyMs: 250,
    });
    const third = startPublisher({ url: channel.publishUrl, seconds: 3, gopSeconds: 1 });
    expect((await third.exited).code).toBe(0);
    const both = await waitFor('two recordings', async () => {
      const list = await listRecordingsJson(cli.run, 'rec-reconnect');
      return list.length === 2 && list.every((r) => r.state === 'ready') ? list : undefined;
    });
    expect(both.map((r) => r.id)).toContain(one.id);
    expect(both[0].id).not.toBe(one.id); // newest first
  });

  it.concurrent('a channel without recording is not recorded', async () => {
    const channel = await stack.createChannel('rec-off');
    const publisher = startPublisher({ url: channel.publishUrl, seconds: 3, gopSeconds: 1 });
    expect((await publisher.exited).code).toBe(0);
    expect(await listRecordingsJson(cli.run, 'rec-off')).toEqual([]);
    // keys update turns it on from the next publish.
    const updated = JSON.parse(await cli.run('keys', 'update', 'rec-off', '--record', '--json')) as { record: boolean };
    expect(updated.record).toBe(true);
    const again = startPublisher({ url: channel.publishUrl, seconds: 3, gopSeconds: 1 });
    expect((await again.exited).code).toBe(0);
    const listed = await waitFor('recorded after keys update --record', async () =>
      (await listRecordingsJson(cli.run, 'rec-off')).find((r) => r.state === 'ready'),
    );
    expect(listed.segmentCount).toBeGreaterThan(0);
  });
});
